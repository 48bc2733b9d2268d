#version 450
// One Jacobi step of marker propagation (compute/segops.c): every unlabelled (0) voxel of
// the mask takes the smallest non-zero uint8 label of its 6-neighbours. Reads 'src', writes
// 'dst' (4 voxels per uint, one thread per word); counts changed voxels in changed[slot].
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Mask { uint mask[]; };
layout(std430, binding = 1) readonly buffer Src { uint src[]; };
layout(std430, binding = 2) writeonly buffer Dst { uint dst[]; };
layout(std430, binding = 3) buffer Changed { uint changed[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_words;
	uint nx;
	uint ny;
	uint nz;
	uint slot;
} pc;

uint lab(uint i)
{
	return (src[i >> 2] >> (8u * (i & 3u))) & 0xFFu;
}

uint pick(uint l, uint c)
{
	return c != 0u && (l == 0u || c < l) ? c : l;
}

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint word = src[w], mw = mask[w], n_changed = 0u;
	uint plane = pc.nx * pc.ny;
	for (uint c = 0u; c < 4u; c++) {
		uint i = w * 4u + c;
		if (i >= pc.n)
			break;
		if (((word >> (8u * c)) & 0xFFu) != 0u || ((mw >> (8u * c)) & 0xFFu) == 0u)
			continue;
		uint x = i % pc.nx, y = (i / pc.nx) % pc.ny, z = i / plane;
		uint l = 0u;
		if (x > 0u)
			l = pick(l, lab(i - 1u));
		if (x + 1u < pc.nx)
			l = pick(l, lab(i + 1u));
		if (y > 0u)
			l = pick(l, lab(i - pc.nx));
		if (y + 1u < pc.ny)
			l = pick(l, lab(i + pc.nx));
		if (z > 0u)
			l = pick(l, lab(i - plane));
		if (z + 1u < pc.nz)
			l = pick(l, lab(i + plane));
		if (l != 0u) {
			word |= l << (8u * c);
			n_changed++;
		}
	}
	dst[w] = word;
	if (n_changed != 0u)
		atomicAdd(changed[pc.slot], n_changed);
}
