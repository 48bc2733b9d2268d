#version 450
// Marks the components containing seed voxels (SEEDED bit of sizes[label]).
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Labels { uint labels[]; };
layout(std430, binding = 1) buffer Sizes { uint sizes[]; };
layout(std430, binding = 2) readonly buffer Seeds { uint seeds[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_seeds;
} pc;

void main()
{
	uint k = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (k >= pc.n_seeds)
		return;
	uint s = seeds[k];
	if (s >= pc.n)
		return;
	uint l = labels[s];
	if (l != 0xFFFFFFFFu)
		atomicOr(sizes[l], 0x40000000u);
}
