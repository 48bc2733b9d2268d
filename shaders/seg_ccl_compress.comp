#version 450
// Connected components step 3 (compute/segops.c): every foreground voxel takes its root as
// label and counts itself into sizes[root] (zero-filled by the host), setting BORDER when it
// lies in the first/last column or row of its slice.
layout(local_size_x = 256) in;

layout(std430, binding = 0) coherent buffer Labels { uint labels[]; };
layout(std430, binding = 1) buffer Sizes { uint sizes[]; };

layout(push_constant) uniform Push {
	uint n;
	uint nx;
	uint ny;
} pc;

void main()
{
	uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (i >= pc.n)
		return;
	uint a = labels[i];
	if (a == 0xFFFFFFFFu)
		return;
	// Other threads may already have replaced an ancestor's parent by its root: still valid.
	uint p = labels[a];
	while (p != a) {
		a = p;
		p = labels[a];
	}
	labels[i] = a;
	uint x = i % pc.nx, y = (i / pc.nx) % pc.ny;
	bool border = x == 0u || y == 0u || x + 1u == pc.nx || y + 1u == pc.ny;
	atomicAdd(sizes[a], 1u);
	if (border)
		atomicOr(sizes[a], 0x80000000u);
}
