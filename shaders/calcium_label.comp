#version 450
// Calcium stage 1 (compute/calcium.c): candidates and union-find initialisation over one
// chunk of whole slices. A candidate (finite HU >= thr inside the ROI) gets its own 1-based
// global voxel index as label, so every voxel starts as the root of its own set and the
// later atomicMin unions make each set's root its lowest voxel; others get 0.

layout(local_size_x = 256) in;

layout(constant_id = 0) const uint HAS_ROI = 0;

layout(std430, binding = 0) readonly buffer Hu { float hu[]; };
layout(std430, binding = 1) readonly buffer Roi { uint roi[]; }; // bytes, 4 per word
layout(std430, binding = 2) writeonly buffer Lab { uint lab[]; };

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
	float x = hu[i + pc.hu_bias];
	bool cand = (floatBitsToUint(x) & 0x7F800000u) != 0x7F800000u && x >= pc.thr;
	if (HAS_ROI != 0u && cand) {
		uint j = i + pc.roi_bias;
		cand = ((roi[j >> 2u] >> (8u * (j & 3u))) & 0xFFu) != 0u;
	}
	lab[i + pc.lab_bias] = cand ? pc.gbase + i + 1u : 0u;
}
