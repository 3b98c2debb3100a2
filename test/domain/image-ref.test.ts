import { describe, expect, it } from 'vitest';
import { imageRefProblem, parseImageRef } from '../../domain/image-ref';
import { specError } from './spec-error';

const HEX64 = 'a'.repeat(64);

describe('image references', () => {
  it.each([
    'ubuntu',
    'ubuntu:24.04',
    'hail-batch-busybox:latest',
    'library/ubuntu',
    'docker.io/library/ubuntu:22.04',
    `gcr.io/p/img@sha256:${HEX64}`,
    `gcr.io/p/img:v1@sha256:${HEX64}`,
    'localhost:5000/x',
    'localhost/x:tag',
    'us-docker.pkg.dev/hail-vdc/hail/hail:0.2.139',
    'registry.example.com:443/team/a__b/c-d.e_f:TAG_1.0-rc',
    '[::1]:5000/img',
    '127.0.0.1:5000/img',
    'Registry.Example.com/img',
    'x',
  ])('accepts %s', (ref) => {
    expect(parseImageRef(ref, 'f')).toBe(ref);
  });

  it('splits a reference into its parts', () => {
    expect(imageRefProblem(`localhost:5000/a/b:1@sha256:${HEX64}`)).toEqual({
      domain: 'localhost:5000',
      path: 'a/b',
      tag: '1',
      digest: `sha256:${HEX64}`,
    });
    expect(imageRefProblem('ubuntu:24.04')).toEqual({ domain: null, path: 'ubuntu', tag: '24.04', digest: null });
  });

  it.each([
    ['../../etc/passwd', /registry host '\.\.'/],
    ['/etc/passwd', /path component ''/],
    ['ubuntu ', /tag|path component/],
    ['ubu ntu', /path component 'ubu ntu'/],
    ['my image:latest', /path component/],
    ['Ubuntu', /must be lowercase/],
    ['library/Ubuntu:1', /registry host|lowercase/],
    ['docker.io/Library/ubuntu', /must be lowercase/],
    ['ubuntu:', /tag ''/],
    ['ubuntu:.hidden', /tag '.hidden'/],
    [`ubuntu:${'t'.repeat(129)}`, /tag/],
    ['ubuntu@sha256:abc', /digest 'sha256:abc' is not algorithm:hex/],
    [`ubuntu@sha256:${'a'.repeat(40)}`, /a sha256 digest has 64 hex digits, found 40/],
    ['ubuntu@md5', /digest 'md5'/],
    ['ubuntu@', /digest ''/],
    ['a//b', /path component ''/],
    ['a/', /path component ''/],
    ['-a', /path component '-a'/],
    ['a..b/c', /registry host 'a..b'/],
    ['a._b', /path component/],
    ['host:port/img', /registry port 'port'/],
    ['host:99999/img', /registry port '99999'/],
    ['-bad.host/img', /registry host '-bad.host'/],
    ['', /must not be empty/],
    [`${'a'.repeat(256)}`, /longer than 255/],
    ['ubuntu\n', /tag|path component/],
    ['a\u0000b', /path component/],
    ['https://gcr.io/img', /registry|path component|tag/],
    [HEX64, /image id, not a repository/],
  ])('refuses %j', (ref, message) => {
    const e = specError(() => parseImageRef(ref, 'bunch[0].process.image'));
    expect(e.field).toBe('bunch[0].process.image');
    expect(e.detail).toMatch(/^invalid image reference/);
    expect(e.detail).toMatch(message);
  });
});
