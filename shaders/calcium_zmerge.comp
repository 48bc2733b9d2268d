#version 450
// Calcium stage 5: lesions. Every kept voxel whose neighbour on the previous slice is kept
// too unites the two components in the component-level union-find p[] (0-based global
// component ids, p[i] = i initially; atomicMin links as in calcium_merge.comp). The label
// binding starts one slice early (lab_bias = element of that slice's first voxel), so pairs
// across chunk borders are found.

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Lab { uint lab[]; };
layout(std430, binding = 1) coherent buffer Parent { uint p[]; };

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

uint find(uint v)
{
	uint q = p[v];
	while (q != v) {
		v = q;
		q = p[v];
	}
	return v;
}

void unite(uint a, uint b)
{
	for (;;) {
		a = find(a);
		b = find(b);
		if (a == b)
			return;
		if (a > b) {
			uint t = a;
			a = b;
			b = t;
		}
		uint old = atomicMin(p[b], a);
		if (old == b)
			return;
		b = old;
	}
}

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	uint i = g * 256u + gl_LocalInvocationID.x;
	if (g >= pc.n_groups || i >= pc.n)
		return;
	uint plane = pc.nx * pc.ny;
	uint below = lab[i + pc.lab_bias];
	if (below == 0u)
		return;
	uint here = lab[i + pc.lab_bias + plane];
	if (here != 0u && here != below)
		unite(here - 1u, below - 1u);
}
