#include "dicom/uid.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace {

/* SHA-1 (FIPS 180-4), only as the hash RFC 4122 prescribes for name-based version 5 UUIDs. */
struct sha1 {
	uint32_t h[5];
	uint8_t block[64];
	size_t used;
	uint64_t total;
};

uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

void sha1_init(sha1 *s)
{
	static const uint32_t iv[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
	memcpy(s->h, iv, sizeof(iv));
	s->used = 0;
	s->total = 0;
}

void sha1_block(sha1 *s, const uint8_t *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 |
		       p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999u;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1u;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDCu;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6u;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

void sha1_update(sha1 *s, const void *data, size_t n)
{
	const uint8_t *p = static_cast<const uint8_t *>(data);
	s->total += n;
	while (n > 0) {
		size_t take = 64 - s->used < n ? 64 - s->used : n;
		memcpy(s->block + s->used, p, take);
		s->used += take;
		p += take;
		n -= take;
		if (s->used == 64) {
			sha1_block(s, s->block);
			s->used = 0;
		}
	}
}

void sha1_final(sha1 *s, uint8_t out[20])
{
	uint64_t bits = s->total * 8;
	uint8_t pad = 0x80;
	sha1_update(s, &pad, 1);
	pad = 0;
	while (s->used != 56)
		sha1_update(s, &pad, 1);
	uint8_t len[8];
	for (int i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, len, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* Namespace of MedSight's name-based UUIDs (a fixed random UUID, never change it: it would
 * change every derived UID and duplicate stored results). */
const uint8_t ms_namespace[16] = {0x6b, 0x1f, 0x3c, 0x52, 0x8e, 0x0d, 0x4a, 0x77,
                                  0x9c, 0x21, 0x5e, 0xb4, 0x03, 0xd8, 0x61, 0xaf};

} /* namespace */

extern "C" void ms_uid_derive(char out[65], const char *const *parts, size_t n_parts)
{
	sha1 s;
	sha1_init(&s);
	sha1_update(&s, ms_namespace, sizeof(ms_namespace));
	for (size_t i = 0; i < n_parts; i++) {
		const char *p = parts && parts[i] ? parts[i] : "";
		uint64_t n = strlen(p);
		/* Length prefix (big-endian) keeps part boundaries: ("ab","c") != ("a","bc"). */
		uint8_t len[8];
		for (int b = 0; b < 8; b++)
			len[b] = (uint8_t)(n >> (56 - 8 * b));
		sha1_update(&s, len, 8);
		sha1_update(&s, p, n);
	}
	uint8_t d[20];
	sha1_final(&s, d);
	d[6] = (uint8_t)((d[6] & 0x0F) | 0x50); /* version 5 */
	d[8] = (uint8_t)((d[8] & 0x3F) | 0x80); /* RFC 4122 variant */

	/* PS3.5 B.2: the UUID as one unsigned decimal integer; the version bits make it non-zero,
	 * so there is never a leading zero. */
	unsigned __int128 v = 0;
	for (int i = 0; i < 16; i++)
		v = (v << 8) | d[i];
	char digits[40];
	int n = 0;
	do {
		digits[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	int o = snprintf(out, 65, "2.25.");
	while (n > 0)
		out[o++] = digits[--n];
	out[o] = '\0';
}
