#version 450
// Largest component search (compute/segops.c), two passes over the component roots that
// pass the filter and are not excluded (labels found by earlier rounds):
// mode 0: best[0] = max size; mode 1: best[1] = smallest root with that size.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Labels { uint labels[]; };
layout(std430, binding = 1) readonly buffer Sizes { uint sizes[]; };
layout(std430, binding = 2) buffer Best { uint best[]; };

layout(push_constant) uniform Push {
	uint n;
	uint mode;
	uint min_size;
	uint flags; // 1 drop_border, 2 seeded_only
	uint n_excl;
	uint excl0, excl1, excl2, excl3;
} pc;

void main()
{
	uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (i >= pc.n || labels[i] != i)
		return;
	uint s = sizes[i];
	uint size = s & 0x3FFFFFFFu;
	if (size < pc.min_size || size == 0u)
		return;
	if ((pc.flags & 1u) != 0u && (s & 0x80000000u) != 0u)
		return;
	if ((pc.flags & 2u) != 0u && (s & 0x40000000u) == 0u)
		return;
	if ((pc.n_excl > 0u && i == pc.excl0) || (pc.n_excl > 1u && i == pc.excl1) ||
	    (pc.n_excl > 2u && i == pc.excl2) || (pc.n_excl > 3u && i == pc.excl3))
		return;
	if (pc.mode == 0u)
		atomicMax(best[0], size);
	else if (size == best[0])
		atomicMin(best[1], i);
}
