#version 450
// Self-test kernel for tests/kernels/test_vk.c: dst[i] = src[i] * MUL + pc.add + OFFSET for
// i < pc.n (spec constants, push constants), and dst[pc.n] = src.length() so the test can see
// the bound byte range.

layout(local_size_x = 64) in;

layout(constant_id = 0) const uint MUL = 1;
layout(constant_id = 1) const uint OFFSET = 0;

layout(std430, binding = 0) readonly buffer Src { uint src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
	uint n;
	uint add;
} pc;

void main()
{
	uint i = gl_GlobalInvocationID.x;
	if (i == 0u)
		dst[pc.n] = uint(src.length());
	if (i >= pc.n)
		return;
	dst[i] = src[i] * MUL + pc.add + OFFSET;
}
