/** Pure codec pieces: reply strings and classification, tokenizer, frame headers, url encoding. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ERR_ALSO_DIRTY, ERR_PARENT_MISSING, ERR_UNKNOWN_COMMAND, OK_ACTIVATING_SSL, OK_CMD_FINISHED, OK_CU_LATER,
  OK_DATA_FOLLOWS, OK_NOT_FOUND, OK_PATH_NOT_FOUND, OK_SEND_DATA, ReplyCode, classifyReply, isOk, isOkCode,
  pleaseIdentify,
} from '../../src/protocol/replies.js';
import { MAX_TOKENS, asciiLower, equalsIgnoreCase, splitTokens, tokenizeLine } from '../../src/protocol/tokenize.js';
import { FRAME_ERROR, encodeFrame, frameHeader, parseFrameHeader } from '../../src/protocol/frame.js';
import { urlDecode, urlEncode } from '../../src/protocol/urlencode.js';
import { ProtocolError, STRERROR_TEXTS, strerror } from '../../src/util/errors.js';
import { execFileSync } from 'node:child_process';

test('reply constants are the exact wire texts', () => {
  assert.equal(OK_CMD_FINISHED, 'OK (cmd_finished).');
  assert.equal(OK_DATA_FOLLOWS, 'OK (data_follows).');
  assert.equal(OK_SEND_DATA, 'OK (send_data).');
  assert.equal(OK_NOT_FOUND, 'OK (not_found).');
  assert.equal(OK_PATH_NOT_FOUND, 'OK (path_not_found).');
  assert.equal(OK_CU_LATER, 'OK (cu_later).');
  assert.equal(OK_ACTIVATING_SSL, 'OK (activating_ssl).');
  assert.equal(ERR_UNKNOWN_COMMAND, 'Unknown command!');
  assert.equal(pleaseIdentify('127.0.0.1'), 'Dear 127.0.0.1, please identify first.');
  assert.equal(pleaseIdentify(null), 'Dear stranger, please identify first.');
});

test('classifyReply: first table entry that is a prefix of the line, else OK/ERROR', () => {
  assert.equal(classifyReply('OK (cmd_finished).'), ReplyCode.OK_CMD_FINISHED);
  assert.equal(classifyReply('OK (cmd_finished). trailing junk'), ReplyCode.OK_CMD_FINISHED);
  assert.equal(classifyReply('OK (activating_ssl).'), ReplyCode.OK_ACTIVATING_SSL);
  assert.equal(classifyReply('OK (something_new).'), ReplyCode.OK);
  assert.equal(classifyReply(ERR_ALSO_DIRTY), ReplyCode.ALSO_DIRTY);
  assert.equal(classifyReply(ERR_PARENT_MISSING), ReplyCode.PARENT_MISSING);
  assert.equal(classifyReply('Permission denied for slave!'), ReplyCode.PERM_SLAVE);
  assert.equal(classifyReply('Permission denied!'), ReplyCode.PERM);
  // strerror texts are generic errors; a table text must match in full.
  assert.equal(classifyReply('Permission denied'), ReplyCode.ERROR);
  assert.equal(classifyReply('No such file or directory'), ReplyCode.ERROR);
  assert.equal(classifyReply('OK (cmd_finished'), ReplyCode.OK);
  assert.equal(classifyReply(''), ReplyCode.ERROR);
  assert.ok(isOk('OK (x)') && !isOk('OK(') && !isOk('ok (cmd_finished).'));
  assert.ok(isOkCode(ReplyCode.OK) && isOkCode(ReplyCode.OK_ACTIVATING_SSL));
  assert.ok(!isOkCode(ReplyCode.ERROR) && !isOkCode(ReplyCode.ALSO_DIRTY) && !isOkCode(ReplyCode.CONN_CLOSED));
});

test('tokenizer splits on runs of TAB/SPACE/CR/LF and url-decodes each token', () => {
  const tags = tokenizeLine('  SIG\tKEY  %25data%25/a%20b \r\n')!;
  assert.equal(tags.length, MAX_TOKENS);
  assert.deepEqual(tags.slice(0, 4), ['SIG', 'KEY', '%data%/a b', '']);
  assert.ok(tags.slice(3).every((t) => t === ''));
  // Other white space (VT, FF) is part of a token; bytes >= 0x80 pass through.
  assert.deepEqual(splitTokens('a\vb\fc d\xe9'), ['a\vb\fc', 'd\xe9']);
  assert.equal(tokenizeLine(''), null);
  assert.equal(tokenizeLine(' \t\r\n'), null);
  // Everything after a NUL byte is invisible to the C tokenizer.
  assert.deepEqual(splitTokens('BYE\0 more'), ['BYE']);
  assert.equal(tokenizeLine('\0BYE'), null);
});

test('tokenizer keeps at most 32 tokens', () => {
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const tags = tokenizeLine(words.join(' '))!;
  assert.equal(tags.length, 32);
  assert.equal(tags[31], 'w31');
  assert.ok(!tags.includes('w32'));
});

test('command names compare case-insensitively in ASCII only', () => {
  assert.ok(equalsIgnoreCase('HeLLo', 'hello'));
  assert.ok(!equalsIgnoreCase('hell\xd6', 'hell\xf6'));
  assert.equal(asciiLower('ABC\xc4'), 'abc\xc4');
});

test('frame header encoding', () => {
  assert.equal(frameHeader(0), 'octet-stream 0\n');
  assert.equal(frameHeader(12), 'octet-stream 12\n');
  assert.equal(frameHeader(-1), 'octet-stream -1\n');
  assert.deepEqual(encodeFrame(Buffer.from('hi')), Buffer.from('octet-stream 2\nhi'));
});

test('frame header parsing follows sscanf("octet-stream %ld")', () => {
  assert.equal(parseFrameHeader('octet-stream 0'), 0);
  assert.equal(parseFrameHeader('octet-stream 4096'), 4096);
  assert.equal(parseFrameHeader('octet-stream -1'), FRAME_ERROR);
  assert.equal(parseFrameHeader('octet-stream -77'), FRAME_ERROR);
  assert.equal(parseFrameHeader('octet-stream -0'), 0);
  assert.equal(parseFrameHeader('octet-stream +5'), 5);
  assert.equal(parseFrameHeader('octet-stream   7'), 7);
  assert.equal(parseFrameHeader('octet-stream7'), 7);
  assert.equal(parseFrameHeader('octet-stream 12abc'), 12);
  assert.equal(parseFrameHeader('octet-stream 0012'), 12);
  assert.equal(parseFrameHeader('octet-stream 9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.equal(parseFrameHeader('ERROR'), FRAME_ERROR);
  const bad = ['', 'ERROR ', 'error', 'octet-stream', 'octet-stream x', 'octet-stream - 1', ' octet-stream 1',
    'OCTET-STREAM 1', 'File is also marked dirty here!', 'octet-stream 9007199254740992',
    'octet-stream 99999999999999999999999'];
  for (const line of bad) {
    assert.throws(() => parseFrameHeader(line), (e: unknown) =>
      e instanceof ProtocolError && e.message === 'Format-error while receiving data.', line);
  }
  assert.throws(() => parseFrameHeader('ERROR', false), ProtocolError);
});

test('url encoding examples of protocol.md 1.1', () => {
  assert.equal(urlEncode('%data%/f1.txt'), '%25data%25/f1.txt');
  assert.equal(urlEncode('li nk'), 'li%20nk');
  assert.equal(urlEncode('we:ird%$|"\'\\name'), 'we%3Aird%25%24%7C%22%27%5Cname');
  assert.equal(urlEncode('a\tb\nc\rd\x7fe\x01'), 'a%09b%0Ac%0Dd%7Fe%01');
  assert.equal(urlEncode('/#;@+=?&,\xc3\xa9'), '/#;@+=?&,\xc3\xa9');
  assert.equal(urlDecode('%25data%25/f1.txt'), '%data%/f1.txt');
  assert.equal(urlDecode('a+b'), 'a+b');
  assert.equal(urlDecode('%4z'), '\x04');
  assert.equal(urlDecode('ab%zzcd'), 'ab');
  assert.equal(urlDecode('x%4'), 'x%4');
  assert.equal(urlDecode('x%'), 'x%');
  for (let b = 1; b < 256; b++) {
    const s = `a${String.fromCharCode(b)}b`;
    assert.equal(urlDecode(urlEncode(s)), s);
  }
});

test("strerror() gives glibc's text for every errno name it knows (checked against this system's)", () => {
  const names = Object.keys(STRERROR_TEXTS);
  const system = JSON.parse(execFileSync('python3', ['-c',
    'import errno, json, os, sys; print(json.dumps({n: os.strerror(getattr(errno, n)) for n in sys.argv[1:] if hasattr(errno, n)}))',
    ...names], { encoding: 'utf8' })) as Record<string, string>;
  for (const n of names) assert.equal(strerror(Object.assign(new Error('x'), { code: n })), system[n], n);
  assert.ok(names.includes('ESTALE') && names.length > 50, `${names.length} names`);
});
