#version 450
// Component selection (compute/segops.c), uint8 output packed 4 per uint, one thread per word.
// mode 0: out = voxel's component passes (min_size, drop_border, seeded_only, keep list).
// mode 1 (hole filling): labels are of the background; out = input on, or background whose
//         component does not touch the slice border.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Labels { uint labels[]; };
layout(std430, binding = 1) readonly buffer Sizes { uint sizes[]; };
layout(std430, binding = 2) readonly buffer In { uint inm[]; }; // mode 1; else a placeholder
layout(std430, binding = 3) writeonly buffer Out { uint outm[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_words;
	uint mode;
	uint min_size;
	uint flags; // 1 drop_border, 2 seeded_only
	uint n_keep;
	uint keep0, keep1, keep2, keep3;
} pc;

bool passes(uint l)
{
	if (l == 0xFFFFFFFFu)
		return false;
	uint s = sizes[l];
	if ((s & 0x3FFFFFFFu) < pc.min_size)
		return false;
	if ((pc.flags & 1u) != 0u && (s & 0x80000000u) != 0u)
		return false;
	if ((pc.flags & 2u) != 0u && (s & 0x40000000u) == 0u)
		return false;
	if (pc.n_keep == 0u)
		return true;
	return l == pc.keep0 || (pc.n_keep > 1u && l == pc.keep1) ||
	       (pc.n_keep > 2u && l == pc.keep2) || (pc.n_keep > 3u && l == pc.keep3);
}

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint word = 0u;
	uint in_word = pc.mode == 1u ? inm[w] : 0u;
	for (uint c = 0u; c < 4u; c++) {
		uint i = w * 4u + c;
		if (i >= pc.n)
			break;
		uint l = labels[i];
		bool on;
		if (pc.mode == 1u)
			on = ((in_word >> (8u * c)) & 0xFFu) != 0u ||
			     (l != 0xFFFFFFFFu && (sizes[l] & 0x80000000u) == 0u);
		else
			on = passes(l);
		if (on)
			word |= 1u << (8u * c);
	}
	outm[w] = word;
}
