#version 450
// Calcium stage 4: area filter. Candidates of components with at least n_min pixels get
// the component's global id + 1, the others 0, so the label volume now holds kept
// components only.

layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Lab { uint lab[]; };
layout(std430, binding = 1) readonly buffer Aux { uint aux[]; };
layout(std430, binding = 2) readonly buffer Table { uint t[]; };

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
	uint c = aux[v - 1u - pc.gbase];
	lab[e] = t[c * 9u + 1u] >= pc.n_min ? pc.comp_base + c + 1u : 0u;
}
