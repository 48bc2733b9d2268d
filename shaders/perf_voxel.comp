#version 450
// Perfusion, one invocation per voxel of a slice chunk (compute/perfusion.h gives the
// definitions; compute/perfusion_ref.c is the double-precision reference).
//   MODE 0: concentration + model-free maps PE, TTP, AUC, MaxSlope, MTT_fm and the
//           irregularity index (written to the SVD_P slot for the host's AIF search).
//   MODE 1: deconvolution b = sum_i<k_P v_i (u_i . c) / s_i with the SVD components of the
//           AIF matrix computed on the host; oSVD adds components from the largest P down and
//           keeps the b of the smallest P whose oscillation index is below the limit.
layout(local_size_x = 64) in;

layout(constant_id = 0) const uint NT = 3u;   // time points
layout(constant_id = 1) const uint MODE = 0u;
layout(constant_id = 2) const uint N = 1u;    // deconvolution grid length
layout(constant_id = 3) const uint L = 1u;    // matrix size (N or 2N)
layout(constant_id = 4) const uint NP = 1u;   // truncation thresholds
layout(constant_id = 5) const uint KMAX = 1u; // components of the smallest P
layout(constant_id = 6) const uint KIND = 0u; // 0 = CT, 1 = DSC

const uint N_MAPS = 10u;
const uint M_PE = 0u, M_TTP = 1u, M_AUC = 2u, M_SLOPE = 3u, M_MTTFM = 4u;
const uint M_CBF = 5u, M_CBV = 6u, M_MTT = 7u, M_TMAX = 8u, M_P = 9u;
const float MIN_SIGNAL = 1e-3;

layout(std430, binding = 0) readonly buffer Sig { float sig[]; };   // [NT][nv]
layout(std430, binding = 1) readonly buffer Mask { uint mask[]; };  // [nv]
layout(std430, binding = 2) writeonly buffer Out { float outm[]; }; // [N_MAPS][nv]
// t[NT] | w[N] | p[NP] | ut[KMAX][N] (u_i / s_i) | vt[KMAX][L] (v_i)
layout(std430, binding = 3) readonly buffer Tab { float tab[]; };
// idx[N] | kept[NP]
layout(std430, binding = 4) readonly buffer UTab { uint utab[]; };

layout(push_constant) uniform Push {
	uint nv;
	uint n_groups;   // workgroups in this run (2-D dispatch fallback)
	uint b;          // baseline frames
	float inv_te;    // DSC: 1 / TE
	float oi_limit;
	float cbf_scale; // (k_H / rho) * 6000
	float cbv_k;     // (k_H / rho) * 100 / AUC_aif
	float dt;
} pc;

float c[NT];
float g[N];
float proj[KMAX];
float bcur[L];
float best[L];

// ln(a / b) to float relative precision also when a ~ b (GLSL's log() has an absolute error
// of up to 2^-21 near 1, i.e. 1e-4 relative for a 0.5% signal drop): 2 atanh(z) with
// z = (a - b) / (a + b) by its series while |z| < 1/3 (terms to z^13: < 1e-7 relative).
float log_ratio(float a, float b)
{
	float z = (a - b) / (a + b);
	if (abs(z) >= 1.0 / 3.0)
		return log(a) - log(b);
	float z2 = z * z;
	float s = 1.0 / 13.0;
	s = s * z2 + 1.0 / 11.0;
	s = s * z2 + 1.0 / 9.0;
	s = s * z2 + 1.0 / 7.0;
	s = s * z2 + 1.0 / 5.0;
	s = s * z2 + 1.0 / 3.0;
	s = s * z2 + 1.0;
	return 2.0 * z * s;
}

void main()
{
	uint grp = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	if (grp >= pc.n_groups)
		return;
	uint v = grp * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
	if (v >= pc.nv)
		return;
	uint nv = pc.nv;
	if (mask[v] == 0u) {
		if (MODE == 0u) {
			for (uint m = M_PE; m <= M_MTTFM; m++)
				outm[m * nv + v] = 0.0;
		} else {
			for (uint m = M_CBF; m <= M_TMAX; m++)
				outm[m * nv + v] = 0.0;
		}
		outm[M_P * nv + v] = 0.0;
		return;
	}

	float s0 = 0.0;
	for (uint k = 0u; k < pc.b; k++)
		s0 += sig[k * nv + v];
	s0 /= float(pc.b);
	if (KIND == 0u) {
		for (uint k = 0u; k < NT; k++)
			c[k] = sig[k * nv + v] - s0;
	} else {
		float a = max(s0, MIN_SIGNAL);
		for (uint k = 0u; k < NT; k++)
			c[k] = log_ratio(a, max(sig[k * nv + v], MIN_SIGNAL)) * pc.inv_te;
	}
	float auc = 0.0;
	for (uint k = 0u; k + 1u < NT; k++)
		auc += (tab[k + 1u] - tab[k]) * (c[k] + c[k + 1u]) * 0.5;

	if (MODE == 0u) {
		uint kmax = 0u;
		float m1 = 0.0, slope = -3.4e38, irr = 0.0;
		for (uint k = 1u; k < NT; k++) {
			if (c[k] > c[kmax])
				kmax = k;
		}
		float pe = c[kmax];
		uint bat = 0u;
		for (uint k = kmax; k > 0u; k--) {
			if (c[k - 1u] < 0.1 * pe) {
				bat = k - 1u;
				break;
			}
		}
		// The first moment about t_BAT: int (t - t_BAT) C = int t C - t_BAT int C, without
		// the cancellation of the difference in float.
		float tb = tab[bat];
		for (uint k = 0u; k + 1u < NT; k++) {
			float h = tab[k + 1u] - tab[k];
			m1 += h * ((tab[k] - tb) * c[k] + (tab[k + 1u] - tb) * c[k + 1u]) * 0.5;
			slope = max(slope, (c[k + 1u] - c[k]) / h);
		}
		for (uint k = 1u; k + 1u < NT; k++) {
			float d2 = c[k + 1u] - 2.0 * c[k] + c[k - 1u];
			irr += d2 * d2;
		}
		outm[M_PE * nv + v] = pe;
		outm[M_TTP * nv + v] = tab[kmax];
		outm[M_AUC * nv + v] = auc;
		outm[M_SLOPE * nv + v] = slope;
		outm[M_MTTFM * nv + v] = auc > 0.0 ? m1 / auc : 0.0;
		outm[M_P * nv + v] = pe > 0.0 ? irr / (pe * pe * float(NT - 2u)) : 0.0;
		return;
	}

	const uint W0 = NT, P0 = NT + N, U0 = NT + N + NP, V0 = NT + N + NP + KMAX * N;
	for (uint j = 0u; j < N; j++) {
		uint i = utab[j];
		float w = tab[W0 + j];
		g[j] = c[i] * (1.0 - w) + c[i + 1u] * w;
	}
	for (uint i = 0u; i < KMAX; i++) {
		float acc = 0.0;
		for (uint j = 0u; j < N; j++)
			acc += tab[U0 + i * N + j] * g[j];
		proj[i] = acc;
	}
	for (uint l = 0u; l < L; l++)
		bcur[l] = 0.0;
	uint added = 0u, pick = NP - 1u;
	for (uint pi = NP; pi-- > 0u;) {
		uint kept = utab[N + pi];
		for (; added < kept; added++) {
			float pr = proj[added];
			for (uint l = 0u; l < L; l++)
				bcur[l] += pr * tab[V0 + added * L + l];
		}
		bool take = pi == NP - 1u;
		if (NP > 1u && !take) {
			float bmax = bcur[0], osc = 0.0;
			for (uint l = 1u; l < L; l++)
				bmax = max(bmax, bcur[l]);
			for (uint l = 2u; l < L; l++)
				osc += abs(bcur[l] - 2.0 * bcur[l - 1u] + bcur[l - 2u]);
			float oi = bmax > 0.0 ? osc / (float(L) * bmax) : 0.0;
			take = oi < pc.oi_limit;
		}
		if (take) {
			for (uint l = 0u; l < L; l++)
				best[l] = bcur[l];
			pick = pi;
		}
	}
	uint kmax = 0u;
	for (uint l = 1u; l < L; l++) {
		if (best[l] > best[kmax])
			kmax = l;
	}
	float cbf = pc.cbf_scale * best[kmax];
	float cbv = pc.cbv_k * auc;
	outm[M_CBF * nv + v] = cbf;
	outm[M_CBV * nv + v] = cbv;
	outm[M_MTT * nv + v] = cbf > 0.0 ? 60.0 * cbv / cbf : 0.0;
	outm[M_TMAX * nv + v] = pc.dt * (kmax < N ? float(kmax) : float(kmax) - float(L));
	outm[M_P * nv + v] = tab[P0 + pick];
}
