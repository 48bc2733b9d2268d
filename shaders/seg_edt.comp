#version 450
// One pass of the separable squared Euclidean distance transform (Felzenszwalb &
// Huttenlocher 2012), one thread per line along 'axis' (compute/segops.c). Input: the mask
// (first pass: 0 on off voxels, +inf on on voxels) or the previous pass's squared distances
// in mm^2; intersections of the parabolas are in index units. The lower envelope (v, z) lives in the scratch buffer,
// one stretch of m + 1 entries per line of the dispatch. The last pass writes sqrt (mm).
layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer Mask { uint mask[]; };
layout(std430, binding = 1) readonly buffer In { float fin[]; };
layout(std430, binding = 2) writeonly buffer Out { float fout[]; };
layout(std430, binding = 3) coherent buffer Scratch { uint scratch[]; };

layout(push_constant) uniform Push {
	uint nx;
	uint ny;
	uint nz;
	uint axis;
	uint n_lines;
	uint from_mask;
	uint last;
	float h;
	uint z_base; // scratch index where the z (float) stretches start
	uint line0;  // first line of this dispatch (lines are batched to bound the scratch)
} pc;

#define INF uintBitsToFloat(0x7F800000u)

float intersect(uint q, float fq, uint v, uint base, uint stride, float h2)
{
	float fv = pc.from_mask != 0u ? 0.0 : fin[base + v * stride];
	float a = float(q), b = float(v);
	return ((fq - fv) / h2 + (a * a - b * b)) / (2.0 * (a - b));
}

void main()
{
	uint line = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 64u + gl_LocalInvocationID.x;
	if (line >= pc.n_lines)
		return;
	uint slot = line;
	line += pc.line0;
	uint m, stride, base;
	if (pc.axis == 0u) {
		m = pc.nx;
		stride = 1u;
		base = line * pc.nx;
	} else if (pc.axis == 1u) {
		m = pc.ny;
		stride = pc.nx;
		base = (line % pc.nx) + (line / pc.nx) * pc.nx * pc.ny;
	} else {
		m = pc.nz;
		stride = pc.nx * pc.ny;
		base = line;
	}
	uint vb = slot * (m + 1u);
	uint zb = pc.z_base + slot * (m + 1u);
	int k = -1;
	float h = pc.h;
	float h2 = h * h;
	for (uint q = 0u; q < m; q++) {
		uint i = base + q * stride;
		float fq;
		if (pc.from_mask != 0u)
			fq = ((mask[i >> 2] >> (8u * (i & 3u))) & 0xFFu) != 0u ? INF : 0.0;
		else
			fq = fin[i];
		if (isinf(fq))
			continue;
		if (k < 0) {
			k = 0;
			scratch[vb] = q;
			scratch[zb] = floatBitsToUint(-INF);
			scratch[zb + 1u] = floatBitsToUint(INF);
			continue;
		}
		// Intersections in index units (q^2 - v^2 exact in float below 2^12): positions in
		// mm would cancel badly far from the origin.
		float s = intersect(q, fq, scratch[vb + uint(k)], base, stride, h2);
		while (s <= uintBitsToFloat(scratch[zb + uint(k)])) {
			k--;
			s = intersect(q, fq, scratch[vb + uint(k)], base, stride, h2);
		}
		k++;
		scratch[vb + uint(k)] = q;
		scratch[zb + uint(k)] = floatBitsToUint(s);
		scratch[zb + uint(k) + 1u] = floatBitsToUint(INF);
	}
	if (k < 0) {
		for (uint q = 0u; q < m; q++)
			fout[base + q * stride] = INF;
		return;
	}
	k = 0;
	for (uint q = 0u; q < m; q++) {
		while (uintBitsToFloat(scratch[zb + uint(k) + 1u]) < float(q))
			k++;
		uint v = scratch[vb + uint(k)];
		float fv = pc.from_mask != 0u ? 0.0 : fin[base + v * stride];
		precise float t = float(int(q) - int(v)) * h;
		precise float d = t * t + fv;
		fout[base + q * stride] = pc.last != 0u ? sqrt(d) : d;
	}
}
