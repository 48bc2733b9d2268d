#version 450
// Calcium stage 2b: points every candidate straight at its root and numbers the roots
// (= the 2-D components) densely with an atomic counter; the component number is stored at
// the root's position in aux[]. Numbers are in scheduling order: the host orders components
// by their root voxel.

layout(local_size_x = 256) in;

layout(std430, binding = 0) coherent buffer Lab { uint lab[]; };
layout(std430, binding = 1) writeonly buffer Aux { uint aux[]; }; // chunk-local index
layout(std430, binding = 2) buffer Counter { uint counter[]; };

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
	uint p = lab[v - 1u - pc.gbase + pc.lab_bias];
	while (p != v) {
		v = p;
		p = lab[v - 1u - pc.gbase + pc.lab_bias];
	}
	return v;
}

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	uint i = g * 256u + gl_LocalInvocationID.x;
	if (g >= pc.n_groups || i >= pc.n)
		return;
	uint e = i + pc.lab_bias;
	uint v = lab[e];
	if (v == 0u)
		return;
	uint r = find(v);
	if (r == pc.gbase + i + 1u)
		aux[i] = atomicAdd(counter[0], 1u);
	else if (r != v)
		lab[e] = r; // concurrent finds still see a valid ancestor here
}
