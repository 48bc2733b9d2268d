#version 450
// HU histogram and statistics over one chunk of float voxels (compute/histogram.c).
//
// Each workgroup takes 1024 * VEC_PER_THREAD consecutive voxels (uvec4-wide, coalesced loads) and
//  - bins them into a shared-memory histogram, flushed with one global atomicAdd per
//    non-empty bin (or straight into global memory when N_BINS does not fit in shared memory);
//  - folds min/max into the chunk's slot with one atomicMax each on order-preserving uint
//    encodings (min as the complement, so a zero-filled slot means "no value yet");
//  - writes (count, mean, M2) to its own partial slot: Welford per thread, Chan's merge across
//    the workgroup in float; the host merges the partials in double, so mean and stddev
//    keep ~1e-6 relative accuracy without float cancellation (no E[x^2] - E[x]^2).
// Non-finite voxels (NaN, +-Inf) are skipped: the host counts them as n - sum(count).
// A voxel's bin is the largest b in [0, N_BINS-1] with edge[b] <= x (else 0); the float
// edges come from the host, so the C reference gets bit-identical bins.

layout(local_size_x = 256) in;

layout(constant_id = 0) const uint N_BINS = 1;
layout(constant_id = 1) const uint SHARED_BINS = 1; // N_BINS, or 1 when bins go to global memory
layout(constant_id = 2) const uint USE_SHARED = 1;
// vec4 loads per thread: a workgroup covers 4 * 256 * VEC_PER_THREAD voxels. Large tiles
// amortise clearing and flushing the shared bins (CPU devices); smaller ones give a GPU
// enough workgroups per chunk.
layout(constant_id = 3) const uint VEC_PER_THREAD = 16;

const uint WG = 256;
const uint VEC_PER_GROUP = WG * VEC_PER_THREAD;

layout(std430, binding = 0) readonly buffer Voxels { vec4 vox[]; };
layout(std430, binding = 1) readonly buffer Edges { float edge[]; }; // N_BINS + 1
layout(std430, binding = 2) buffer Result { uint res[]; }; // per chunk: ~min key, max key, bins
struct Partial {
	uint n;
	float mean;
	float m2;
	uint pad;
};
layout(std430, binding = 3) writeonly buffer Partials { Partial part[]; };

layout(push_constant) uniform Push {
	uint n;            // voxels in this chunk
	uint n_groups;     // workgroups covering them (the grid may be larger)
	uint result_base;  // index of this chunk's slot in res[]
	uint partial_base; // index of this chunk's first partial
	float inv_width;   // 1 / bin width: only a first guess, edge[] decides
} pc;

shared uint s_bins[SHARED_BINS];
shared uint s_n[WG];
shared float s_mean[WG];
shared float s_m2[WG];
shared uint s_min_inv;
shared uint s_max;

uint order_key(float x)
{
	uint u = floatBitsToUint(x);
	return (u & 0x80000000u) != 0u ? ~u : (u | 0x80000000u);
}

uint bin_of(float x)
{
	float t = clamp((x - edge[0]) * pc.inv_width, 0.0, float(N_BINS - 1u));
	uint b = uint(t);
	while (b > 0u && x < edge[b])
		b--;
	while (b < N_BINS - 1u && x >= edge[b + 1u])
		b++;
	return b;
}

void main()
{
	uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	if (group >= pc.n_groups)
		return; // uniform per workgroup, so no barrier is skipped by part of a group
	uint tid = gl_LocalInvocationID.x;
	uint slot = pc.result_base;

	if (USE_SHARED != 0u) {
		for (uint i = tid; i < N_BINS; i += WG)
			s_bins[i] = 0u;
	}
	if (tid == 0u) {
		s_min_inv = 0u;
		s_max = 0u;
	}
	barrier();

	uint cnt = 0u;
	float mean = 0.0;
	float m2 = 0.0;
	uint kmin = 0xFFFFFFFFu;
	uint kmax = 0u;
	for (uint j = 0u; j < VEC_PER_THREAD; j++) {
		uint v4 = group * VEC_PER_GROUP + j * WG + tid;
		uint first = v4 * 4u;
		if (first >= pc.n)
			break;
		// The host binds the chunk rounded up to 16 bytes, so the tail vec4 is in range.
		vec4 q = vox[v4];
		uint m = min(pc.n - first, 4u);
		for (uint c = 0u; c < m; c++) {
			float x = q[c];
			if ((floatBitsToUint(x) & 0x7F800000u) == 0x7F800000u)
				continue;
			cnt++;
			float d = x - mean;
			mean += d / float(cnt);
			m2 += d * (x - mean);
			uint k = order_key(x);
			kmin = min(kmin, k);
			kmax = max(kmax, k);
			uint b = bin_of(x);
			if (USE_SHARED != 0u)
				atomicAdd(s_bins[b], 1u);
			else
				atomicAdd(res[slot + 2u + b], 1u);
		}
	}
	if (cnt != 0u) {
		atomicMax(s_min_inv, ~kmin);
		atomicMax(s_max, kmax);
	}
	s_n[tid] = cnt;
	s_mean[tid] = mean;
	s_m2[tid] = m2;
	barrier();

	for (uint s = WG / 2u; s > 0u; s >>= 1u) {
		if (tid < s) {
			uint na = s_n[tid];
			uint nb = s_n[tid + s];
			if (nb != 0u) {
				if (na == 0u) {
					s_n[tid] = nb;
					s_mean[tid] = s_mean[tid + s];
					s_m2[tid] = s_m2[tid + s];
				} else {
					uint nn = na + nb;
					float d = s_mean[tid + s] - s_mean[tid];
					float fb = float(nb) / float(nn);
					s_mean[tid] += d * fb;
					s_m2[tid] += s_m2[tid + s] + d * d * float(na) * fb;
					s_n[tid] = nn;
				}
			}
		}
		barrier();
	}

	if (tid == 0u) {
		part[pc.partial_base + group] = Partial(s_n[0], s_mean[0], s_m2[0], 0u);
		if (s_n[0] != 0u) {
			atomicMax(res[slot], s_min_inv);
			atomicMax(res[slot + 1u], s_max);
		}
	}
	if (USE_SHARED != 0u) {
		for (uint i = tid; i < N_BINS; i += WG) {
			uint c = s_bins[i];
			if (c != 0u)
				atomicAdd(res[slot + 2u + i], c);
		}
	}
}
