#version 450
// out = (lo <= hu < hi) && within, on uint8 masks packed 4 per uint (compute/segops.c).
// One thread per 32-bit word, so no two threads write the same word.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Hu { float hu[]; };
layout(std430, binding = 1) readonly buffer Within { uint within[]; };
layout(std430, binding = 2) writeonly buffer Out { uint outm[]; };

layout(push_constant) uniform Push {
	uint n;          // voxels
	uint n_words;    // (n + 3) / 4
	float lo;
	float hi;
	uint use_within; // 0: binding 1 is a placeholder
} pc;

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint m = pc.use_within != 0u ? within[w] : 0xFFFFFFFFu;
	uint word = 0u;
	for (uint c = 0u; c < 4u; c++) {
		uint i = w * 4u + c;
		if (i >= pc.n)
			break;
		float v = hu[i];
		if (v >= pc.lo && v < pc.hi && ((m >> (8u * c)) & 0xFFu) != 0u)
			word |= 1u << (8u * c);
	}
	outm[w] = word;
}
