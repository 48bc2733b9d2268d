#version 450
// Connected components step 1 (compute/segops.c): every foreground voxel
// ((mask != 0) != invert) starts as its own root, background gets NO_LABEL.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Mask { uint mask[]; };
layout(std430, binding = 1) writeonly buffer Labels { uint labels[]; };

layout(push_constant) uniform Push {
	uint n;
	uint invert;
} pc;

void main()
{
	uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (i >= pc.n)
		return;
	bool fg = (((mask[i >> 2] >> (8u * (i & 3u))) & 0xFFu) != 0u) != (pc.invert != 0u);
	labels[i] = fg ? i : 0xFFFFFFFFu;
}
