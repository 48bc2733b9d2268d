#version 450
// Perfusion, ROI-mean curve: per workgroup and time point, the sum of the signal over the
// tissue-mask voxels of a run of vox_per_group voxels. The host adds the partial sums in
// double. One invocation per time point streams its row, so no shared memory or barriers.
layout(local_size_x = 64) in;

layout(constant_id = 0) const uint NT = 3u; // time points

layout(std430, binding = 0) readonly buffer Sig { float sig[]; };    // [NT][nv]
layout(std430, binding = 1) readonly buffer Mask { uint mask[]; };   // [nv], 0 = outside
layout(std430, binding = 2) writeonly buffer Part { float part[]; }; // [n_groups][NT]

layout(push_constant) uniform Push {
	uint nv;             // voxels in this chunk
	uint n_groups;
	uint vox_per_group;
} pc;

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	if (g >= pc.n_groups)
		return;
	uint v0 = g * pc.vox_per_group;
	uint v1 = min(v0 + pc.vox_per_group, pc.nv);
	for (uint t = gl_LocalInvocationID.x; t < NT; t += gl_WorkGroupSize.x) {
		float acc = 0.0;
		for (uint v = v0; v < v1; v++) {
			if (mask[v] != 0u)
				acc += sig[t * pc.nv + v];
		}
		part[g * NT + t] = acc;
	}
}
