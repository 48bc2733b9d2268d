#version 450
// out = a AND b / a AND NOT b / a OR b on uint8 masks packed 4 per uint; one thread per word.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer A { uint a[]; };
layout(std430, binding = 1) readonly buffer B { uint b[]; };
layout(std430, binding = 2) writeonly buffer Out { uint outm[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_words;
	uint op; // 0 and, 1 and-not, 2 or (ms_seg_logic)
} pc;

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint wa = a[w], wb = b[w], word = 0u;
	for (uint c = 0u; c < 4u; c++) {
		if (w * 4u + c >= pc.n)
			break;
		bool x = ((wa >> (8u * c)) & 0xFFu) != 0u;
		bool y = ((wb >> (8u * c)) & 0xFFu) != 0u;
		bool on = pc.op == 0u ? (x && y) : pc.op == 1u ? (x && !y) : (x || y);
		if (on)
			word |= 1u << (8u * c);
	}
	outm[w] = word;
}
