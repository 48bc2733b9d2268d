#version 450
// Calcium stage 6: lesion map. Replaces each kept voxel's component id + 1 by its lesion id
// (table from the host: 0 for lesions dropped by max_hu).

layout(local_size_x = 256) in;

layout(std430, binding = 0) buffer Lab { uint lab[]; };
layout(std430, binding = 1) readonly buffer Lesion { uint lesion[]; };

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
	if (v != 0u)
		lab[e] = lesion[v - 1u];
}
