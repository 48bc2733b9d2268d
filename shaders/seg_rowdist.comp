#version 450
// Morphology step 1 (compute/segops.c): for every voxel, the distance along its row to the
// nearest "source" voxel ((mask != 0) != invert), capped at cap (<= 255), as uint8 packed 4
// per uint. One thread per word; a word may span two rows, so x is derived per voxel.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer In { uint inm[]; };
layout(std430, binding = 1) writeonly buffer Out { uint outd[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_words;
	uint nx;
	uint cap;
	uint invert;
} pc;

bool src(uint i)
{
	return (((inm[i >> 2] >> (8u * (i & 3u))) & 0xFFu) != 0u) != (pc.invert != 0u);
}

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint word = 0u;
	for (uint c = 0u; c < 4u; c++) {
		uint i = w * 4u + c;
		if (i >= pc.n)
			break;
		uint x = i % pc.nx;
		uint d = pc.cap;
		for (uint k = 0u; k < pc.cap; k++) {
			if ((x >= k && src(i - k)) || (x + k < pc.nx && src(i + k))) {
				d = k;
				break;
			}
		}
		word |= d << (8u * c);
	}
	outd[w] = word;
}
