/*
 * csync2-prebind: binds the standalone daemon's listening socket before node starts.
 *
 *   csync2-prebind N COMMAND... [CSYNC2 ARGUMENTS...]
 *
 * The first N words after N are the command that runs csync2-ts (node, its flags, the
 * script); the rest are csync2's arguments. For a plain `-ii` / `-iii` command line (the
 * one net/early-listen.ts takes its own early path for: only -v, -t, -N, -p number, -D,
 * -C), the socket is bound and listening at once and handed on as an open descriptor
 * named in CSYNC2_TS_LISTEN ("fd host port"); csync2-ts adopts it when its own
 * resolution gives the same address and port, and otherwise closes it and binds itself.
 * Anything unusual (other options, systemd's sockets, the stop switch, a name that does
 * not resolve, a failed bind) leaves all of it to csync2-ts, which reports errors as usual.
 *
 * Why: csync2 listens a few milliseconds after it starts; scripts (csync2's own tests
 * among them) start a daemon in the background and run a client at once. node needs
 * 50-200 ms before any of our code runs, and a real csync2 client connects within that
 * time and fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define DEFAULT_PORT 30865
#define BACKLOG 128 /* as net/early-listen.ts LISTEN_BACKLOG */

/* The command line is a plain standalone daemon: fills name (or NULL) and port. */
static int plain_daemon(int argc, char **argv, char *name, size_t namesz, int *has_name, long *port)
{
	int is = 0;
	*has_name = 0;
	*port = DEFAULT_PORT;
	for (int k = 0; k < argc; k++) {
		const char *a = argv[k];
		size_t len = strlen(a);
		if (len < 2 || a[0] != '-' || a[1] == '-')
			return 0;
		for (size_t j = 1; j < len; j++) {
			char c = a[j];
			if (c == 'i') {
				is++;
			} else if (c == 'v' || c == 't') {
				continue;
			} else if (c == 'N' || c == 'p' || c == 'D' || c == 'C') {
				const char *value = a + j + 1;
				if (*value == '\0') {
					if (k + 1 >= argc)
						return 0;
					value = argv[++k];
				}
				if (c == 'N') {
					size_t n = 0;
					for (const char *p = value; *p; p++)
						if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
							return 0;
					for (; value[n] && n < 255 && n + 1 < namesz; n++)
						name[n] = (char)tolower((unsigned char)value[n]);
					name[n] = '\0';
					*has_name = 1;
				}
				if (c == 'p') {
					size_t n = strlen(value);
					if (n < 1 || n > 5 || strspn(value, "0123456789") != n)
						return 0;
					*port = strtol(value, NULL, 10);
					if (*port > 65535)
						return 0;
				}
				break;
			} else {
				return 0;
			}
		}
	}
	return is == 2 || is == 3;
}

/* Bind and listen; returns the descriptor (address text in host) or -1. */
static int bind_listen(const char *name, int has_name, long port, char *host, size_t hostsz)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	if (!has_name) {
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_ANY);
		sslen = sizeof *s4;
	} else if (inet_pton(AF_INET, name, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		sslen = sizeof *s4;
	} else if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		sslen = sizeof *s6;
	} else {
		/* node's dns.lookup(name, { all: true, verbatim: true }): getaddrinfo's first answer. */
		struct addrinfo hints, *res = NULL;
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(name, NULL, &hints, &res) != 0)
			return -1;
		for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
			if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
				memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
				sslen = ai->ai_addrlen;
				break;
			}
		}
		freeaddrinfo(res);
		if (sslen == 0)
			return -1;
	}
	if (ss.ss_family == AF_INET) {
		s4->sin_port = htons((unsigned short)port);
		inet_ntop(AF_INET, &s4->sin_addr, host, hostsz);
	} else {
		s6->sin6_port = htons((unsigned short)port);
		s6->sin6_scope_id = 0;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, hostsz);
	}
	/* Not close-on-exec: it is meant for the program exec'd next. */
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as libuv does */
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(fd, (struct sockaddr *)&ss, sslen) != 0 || listen(fd, BACKLOG) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return fprintf(stderr, "usage: csync2-prebind N COMMAND... [ARGUMENTS...]\n"), 2;
	int n = atoi(argv[1]);
	if (n < 1 || n > argc - 2)
		return fprintf(stderr, "csync2-prebind: bad command word count '%s'\n", argv[1]), 2;
	char **cmd = argv + 2;
	int nargs = argc - 2 - n;
	char **args = cmd + n;

	char name[256];
	int has_name;
	long port;
	const char *sysdir = getenv("CSYNC2_SYSTEM_DIR");
	char lock[4096];
	snprintf(lock, sizeof lock, "%s/csync2.lock", sysdir ? sysdir : "/etc");
	unsetenv("CSYNC2_TS_LISTEN");
	if (plain_daemon(nargs, args, name, sizeof name, &has_name, &port) && !getenv("LISTEN_FDS")
	    && access(lock, F_OK) != 0) {
		char host[INET6_ADDRSTRLEN];
		int fd = bind_listen(name, has_name, port, host, sizeof host);
		if (fd >= 0) {
			char spec[128];
			snprintf(spec, sizeof spec, "%d %s %ld", fd, host, port);
			setenv("CSYNC2_TS_LISTEN", spec, 1);
		}
	}
	/* cmd is followed by args in argv, and argv ends with NULL. */
	execvp(cmd[0], cmd);
	fprintf(stderr, "csync2-prebind: cannot run %s: %s\n", cmd[0], strerror(errno));
	return 127;
}
