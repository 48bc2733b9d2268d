#version 450
// Calcium stage 3: per-component statistics with global atomics, 9 words per component:
// root voxel, pixel count, peak HU (atomicMax on the float bits: candidates are > 0), the HU
// sum in 64-bit fixed point with 16 fraction bits (exact for HU >= 128, where float steps
// are >= 2^-16), and the sums of the in-plane coordinates x and y (64 bits each). 64-bit sums
// are two words: whichever thread wraps the low word adds the carry to the high word, so the
// pair is exact under any interleaving.

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Hu { float hu[]; };
layout(std430, binding = 1) readonly buffer Lab { uint lab[]; };
layout(std430, binding = 2) readonly buffer Aux { uint aux[]; };
layout(std430, binding = 3) buffer Table { uint t[]; };

// Push constants shared by every calcium_*.comp kernel (compute/calcium.c push_block).
layout(push_constant) uniform Push {
	uint n;         // voxels of this dispatch
	uint n_groups;  // workgroups covering them (the grid may hold more)
	uint nx, ny;    // slice size
	uint gbase;     // global index of the chunk's first voxel
	uint hu_bias;   // element of the HU binding holding the chunk's first voxel
	uint roi_bias;  // byte of the ROI binding holding the chunk's first voxel
	uint lab_bias;  // element of the label binding holding the chunk's first voxel
	uint comp_base; // global id of the chunk's first component
	uint n_min;     // minimum pixels of a kept component
	float thr;      // smallest float >= the threshold
} pc;

void add64(uint at, uint lo, uint hi)
{
	uint old = atomicAdd(t[at], lo);
	uint carry = old + lo < old ? 1u : 0u;
	if (hi + carry != 0u)
		atomicAdd(t[at + 1u], hi + carry);
}

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	uint i = g * 256u + gl_LocalInvocationID.x;
	if (g >= pc.n_groups || i >= pc.n)
		return;
	uint v = lab[i + pc.lab_bias];
	if (v == 0u)
		return;
	uint base = aux[v - 1u - pc.gbase] * 9u;
	float x = hu[i + pc.hu_bias];
	if (v == pc.gbase + i + 1u)
		t[base] = v - 1u;
	atomicAdd(t[base + 1u], 1u);
	atomicMax(t[base + 2u], floatBitsToUint(x));
	// Above 2^24 floats are integers; clamping there keeps the integer part in 24 bits.
	float xc = min(x, 16777215.0);
	float ip = floor(xc);
	uint ipart = uint(ip);
	uint frac = uint((xc - ip) * 65536.0);
	add64(base + 3u, (ipart << 16u) | frac, ipart >> 16u);
	add64(base + 5u, i % pc.nx, 0u);
	add64(base + 7u, (i / pc.nx) % pc.ny, 0u);
}
