#!/usr/bin/env node
// A SigV4-checking front for s3rver, for edgestream's S3 sink tests.
//
// s3rver is a real S3 implementation (buckets, PutObject, GetObject, ListObjectsV2,
// DeleteObjects, stored Content-Type and Cache-Control) but it does not check SigV4
// signatures: its lib/middleware/authentication.js says "Signature version 4 calculation is
// unimplemented" and accepts any. This proxy checks every signed request the way S3 does,
// with AWS's own signer (@smithy/signature-v4, an implementation independent of
// edgestream's src/sink/sigv4.c), and forwards only the good ones:
//
//   - unknown access key id                     403 InvalidAccessKeyId
//   - x-amz-content-sha256 != SHA-256 of body    400 XAmzContentSHA256Mismatch
//   - Content-MD5 != MD5 of body                 400 BadDigest
//   - x-amz-date more than 15 min off            403 RequestTimeTooSkewed
//   - signature or SignedHeaders differ          403 SignatureDoesNotMatch
//
// Unsigned requests (the tests' own reads) pass through. Requests for one key are passed on
// one at a time, so that a read never sees an object s3rver is still writing (S3's PUT is
// atomic; s3rver's is not). Loopback only. Secrets come from
// the environment (SIGV4_PROXY_ACCESS_KEY, SIGV4_PROXY_SECRET_KEY) and are never printed.
//
//   node sigv4-proxy.js --upstream-port 4568 [--port 0] [--region us-east-1]
//   -> prints "ready http://127.0.0.1:PORT" once listening
//   GET /__sigv4/stats -> {"verified":N,"rejected":{"SignatureDoesNotMatch":N,...},"unsigned":N}
'use strict';

const crypto = require('crypto');
const http = require('http');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Hash } = require('@smithy/hash-node');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const upstreamPort = Number(arg('--upstream-port'));
const port = Number(arg('--port', '0'));
const region = arg('--region', 'us-east-1');
const accessKeyId = process.env.SIGV4_PROXY_ACCESS_KEY;
const secretAccessKey = process.env.SIGV4_PROXY_SECRET_KEY;
if (!upstreamPort || !accessKeyId || !secretAccessKey) {
  process.stderr.write('sigv4-proxy: need --upstream-port and SIGV4_PROXY_ACCESS_KEY / ' +
    'SIGV4_PROXY_SECRET_KEY in the environment\n');
  process.exit(2);
}

const stats = { verified: 0, unsigned: 0, rejected: {} };

const signer = new SignatureV4({
  credentials: { accessKeyId, secretAccessKey },
  region,
  service: 's3',
  sha256: Hash.bind(null, 'sha256'),
  uriEscapePath: false, // S3: the canonical URI is the path as sent
  applyChecksum: false,
});

function xmlError(res, status, code, message) {
  stats.rejected[code] = (stats.rejected[code] || 0) + 1;
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${message}</Message>` +
    '<RequestId>sigv4-proxy</RequestId></Error>';
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function parseAuthorization(value) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(value);
  if (!m) return null;
  return { accessKeyId: m[1], date: m[2], region: m[3], service: m[4],
           signedHeaders: m[5].split(';'), signature: m[6] };
}

function parseQuery(raw) {
  const query = {};
  if (!raw) return query;
  for (const part of raw.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, '%20'));
    query[k] = v;
  }
  return query;
}

function amzDate(text) {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(text || '');
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : null;
}

async function verify(req, body, res) {
  const auth = parseAuthorization(req.headers.authorization);
  if (!auth) return xmlError(res, 400, 'AuthorizationHeaderMalformed', 'malformed Authorization');
  if (auth.accessKeyId !== accessKeyId) {
    return xmlError(res, 403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
  if (auth.region !== region || auth.service !== 's3') {
    return xmlError(res, 400, 'AuthorizationHeaderMalformed', `the region '${auth.region}' is wrong; expecting '${region}'`);
  }
  const declared = req.headers['x-amz-content-sha256'];
  if (!declared) return xmlError(res, 400, 'InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
  if (declared !== 'UNSIGNED-PAYLOAD' &&
      declared !== crypto.createHash('sha256').update(body).digest('hex')) {
    return xmlError(res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  if (req.headers['content-md5'] !== undefined &&
      req.headers['content-md5'] !== crypto.createHash('md5').update(body).digest('base64')) {
    return xmlError(res, 400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  const date = amzDate(req.headers['x-amz-date']);
  if (!date || Math.abs(Date.now() - date.getTime()) > 15 * 60 * 1000) {
    return xmlError(res, 403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
  }
  const q = req.url.indexOf('?');
  const headers = {};
  for (const name of auth.signedHeaders) {
    if (req.headers[name] === undefined) {
      return xmlError(res, 403, 'SignatureDoesNotMatch', `signed header ${name} is missing`);
    }
    headers[name] = req.headers[name];
  }
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').replace(/:\d+$/, ''),
    path: q < 0 ? req.url : req.url.slice(0, q),
    query: parseQuery(q < 0 ? '' : req.url.slice(q + 1)),
    headers,
    body,
  };
  const signed = await signer.sign(request, { signingDate: date });
  const expected = parseAuthorization(signed.headers.authorization);
  if (!expected || expected.signature !== auth.signature ||
      expected.signedHeaders.join(';') !== auth.signedHeaders.join(';')) {
    return xmlError(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  }
  stats.verified++;
  return forward(req, body, res);
}

// S3 never serves part of an object: a GET sees the whole old object or the whole new one.
// s3rver writes an object in place (fs.createWriteStream on the object's file), so a GET
// racing a PUT of the same key can read it half written. Requests for one key therefore go
// upstream one at a time, in arrival order; different keys still run side by side.
const keyQueues = new Map();

function oneAtATime(key, run) {
  const turn = (keyQueues.get(key) || Promise.resolve()).then(() => new Promise(run));
  keyQueues.set(key, turn);
  turn.then(() => { if (keyQueues.get(key) === turn) keyQueues.delete(key); });
}

function forward(req, body, res) {
  oneAtATime(req.url.split('?')[0], (done) => {
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method,
                              path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
      ur.on('close', done);
    });
    up.on('error', (e) => {
      done();
      if (!res.headersSent) xmlError(res, 502, 'UpstreamError', String(e.code || e));
      else res.destroy();
    });
    up.end(body);
  });
}

const server = http.createServer((req, res) => {
  if (req.url === '/__sigv4/stats') {
    const text = JSON.stringify(stats);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(text);
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    if (req.headers.authorization === undefined) {
      stats.unsigned++;
      forward(req, body, res);
      return;
    }
    verify(req, body, res).catch((e) => xmlError(res, 500, 'InternalError', String(e)));
  });
});
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`ready http://127.0.0.1:${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
