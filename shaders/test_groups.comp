#version 450
// Self-test kernel for tests/kernels/test_vk.c: every workgroup counts itself once at its
// linear id, so a dispatch split into a 2-D grid (more groups than
// maxComputeWorkGroupCount[0]) can be checked for holes and duplicates.

layout(local_size_x = 1) in;

layout(std430, binding = 0) buffer Hits { uint hits[]; };

layout(push_constant) uniform Push {
	uint total; // requested number of groups; the grid may hold a few more
} pc;

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	if (g >= pc.total)
		return;
	atomicAdd(hits[g], 1u);
}
