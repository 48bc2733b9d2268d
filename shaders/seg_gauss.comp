#version 450
// One pass of the separable Gaussian (compute/segops.c) along 'axis', edges clamped; the
// weights come from the host (ms_segops_ref_gauss_weights) and are summed in the reference's
// order without fused multiply-adds (precise), so results match it to float rounding.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer In { float vin[]; };
layout(std430, binding = 1) readonly buffer Weights { float wts[]; };
layout(std430, binding = 2) writeonly buffer Out { float vout[]; };

layout(push_constant) uniform Push {
	uint n;
	uint nx;
	uint ny;
	uint nz;
	uint axis;
	uint radius;
} pc;

void main()
{
	uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (i >= pc.n)
		return;
	uint dim = pc.axis == 0u ? pc.nx : pc.axis == 1u ? pc.ny : pc.nz;
	uint stride = pc.axis == 0u ? 1u : pc.axis == 1u ? pc.nx : pc.nx * pc.ny;
	int c = int((i / stride) % dim);
	uint base = i - uint(c) * stride;
	int r = int(pc.radius);
	precise float acc = 0.0;
	for (int k = 0; k <= 2 * r; k++) {
		int q = clamp(c + k - r, 0, int(dim) - 1);
		precise float t = wts[k] * vin[base + uint(q) * stride];
		acc = acc + t;
	}
	vout[i] = acc;
}
