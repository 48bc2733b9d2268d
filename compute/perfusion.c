#include "compute/perfusion.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/perfusion_ref.h"
#include "compute/vk_buffer.h"
#include "compute/vk_kernel.h"
/* The generated header's first comment contains "shaders/" "*.comp" (cmake/embed.cmake). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "ms_shaders.h"
#pragma GCC diagnostic pop

/* Must match shaders/perf_*.comp. */
#define WG 64u
#define ROI_VOX_PER_GROUP 1024u
#define DEFAULT_BUDGET ((uint64_t)2048 << 20)

void ms_perf_result_clear(ms_perf_result *r)
{
	if (!r)
		return;
	for (int m = 0; m < MS_PERF_N_MAPS; m++)
		ms_free(r->map[m]);
	ms_free(r->mask);
	ms_free(r->aif);
	memset(r, 0, sizeof(*r));
}

const char *ms_perf_map_name(ms_perf_map m)
{
	static const char *const names[MS_PERF_N_MAPS] = {
		"PE", "TTP", "AUC", "MaxSlope", "MTT_fm", "CBF", "CBV", "MTT", "Tmax", "SVD_P",
	};

	return (unsigned)m < MS_PERF_N_MAPS ? names[m] : "?";
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
	uint32_t nv;
	uint32_t n_groups;
	uint32_t vox_per_group;
} roi_push;

typedef struct {
	uint32_t nv;
	uint32_t n_groups;
	uint32_t b;
	float inv_te;
	float oi_limit;
	float cbf_scale;
	float cbv_k;
	float dt;
} voxel_push;

/* One analysis on the GPU: chunks of cz slices (the last may be shorter). */
typedef struct {
	ms_vk_context *c;        /* borrowed */
	const ms_perf_input *in; /* borrowed */
	ms_perf_setup s;
	ms_perf_result *r;
	size_t slice, nvox;
	uint32_t cz, n_chunks;
	bool resident;
	ms_vk_buffer **sig;      /* resident: one per chunk; streamed: sig[0] only */
	bool *loaded;
	int32_t streamed_chunk;  /* chunk now in sig[0] (streamed), -1 = none */
	ms_vk_buffer *mask, *out, *part, *tab, *utab;
	ms_vk_kernel *roi, *maps, *deconv;
	double fill_ms;
} run;

static void run_close(run *u)
{
	ms_vk_kernel_destroy(u->deconv);
	ms_vk_kernel_destroy(u->maps);
	ms_vk_kernel_destroy(u->roi);
	ms_vk_buffer_destroy(u->utab);
	ms_vk_buffer_destroy(u->tab);
	ms_vk_buffer_destroy(u->part);
	ms_vk_buffer_destroy(u->out);
	ms_vk_buffer_destroy(u->mask);
	for (uint32_t i = 0; u->sig && i < u->n_chunks; i++)
		ms_vk_buffer_destroy(u->sig[i]);
	ms_free(u->sig);
	ms_free(u->loaded);
}

static uint32_t chunk_slices(const run *u, uint32_t ci)
{
	uint32_t z0 = ci * u->cz;

	return u->in->nz - z0 < u->cz ? u->in->nz - z0 : u->cz;
}

/* Signal buffer of chunk ci, filled (or refilled in streamed mode) as needed. */
static ms_status get_chunk(run *u, uint32_t ci, ms_vk_buffer **out)
{
	const ms_perf_input *in = u->in;
	uint32_t slot = u->resident ? ci : 0, nz = chunk_slices(u, ci), z0 = ci * u->cz;
	ms_status rc;

	*out = NULL;
	if (u->resident ? u->loaded[ci] : u->streamed_chunk == (int32_t)ci) {
		*out = u->sig[slot];
		return MS_OK;
	}
	double t0 = now_ms();
	if (!u->sig[slot]) {
		rc = ms_vk_buffer_create(u->c, (size_t)in->nt * u->slice * u->cz * sizeof(float),
					 MS_MEM_HOST, &u->sig[slot]);
		if (rc != MS_OK)
			return rc;
	}
	float *dst = ms_vk_buffer_map(u->sig[slot]);
	size_t cv = u->slice * nz;
	if (in->data) {
		for (uint32_t t = 0; t < in->nt; t++)
			memcpy(dst + t * cv, in->data + t * u->nvox + (size_t)z0 * u->slice,
			       cv * sizeof(float));
	} else {
		u->streamed_chunk = -1;
		rc = in->fill(in->user, z0, nz, dst);
		if (rc != MS_OK) {
			ms_log_error("perfusion: filling slices %u..%u failed (%s)", z0, z0 + nz - 1,
				     ms_status_name(rc));
			return rc;
		}
	}
	if (u->resident)
		u->loaded[ci] = true;
	else
		u->streamed_chunk = (int32_t)ci;
	u->fill_ms += now_ms() - t0;
	*out = u->sig[slot];
	return MS_OK;
}

/* Copies the chunk's part of the host mask into the GPU mask buffer. */
static void put_mask(run *u, uint32_t ci)
{
	uint32_t *m = ms_vk_buffer_map(u->mask);
	const uint8_t *src = u->r->mask + (size_t)ci * u->cz * u->slice;
	size_t cv = u->slice * chunk_slices(u, ci);

	for (size_t i = 0; i < cv; i++)
		m[i] = src[i];
}

static ms_status plan(run *u, const ms_perf_params *p)
{
	const ms_perf_input *in = u->in;
	uint64_t range = ms_vk_context_max_buffer_range(u->c);
	uint64_t budget = p->memory_budget ? p->memory_budget : DEFAULT_BUDGET;
	uint64_t sig_slice = (uint64_t)in->nt * u->slice * sizeof(float);
	uint64_t out_slice = (uint64_t)MS_PERF_N_MAPS * u->slice * sizeof(float);
	uint64_t scratch_slice = out_slice + u->slice * sizeof(uint32_t);
	/* Tables: times, grid, the SVD components (at most 2 x 256 x 256 floats), partials. */
	uint64_t fixed = (uint64_t)3 * 2 * MS_PERF_MAX_T * 2 * MS_PERF_MAX_T * sizeof(float);

	uint32_t cz = p->chunk_slices;
	if (cz == 0) {
		uint64_t by_range = range / (sig_slice > out_slice ? sig_slice : out_slice);
		uint64_t by_budget = budget > fixed ? (budget - fixed) / (sig_slice + scratch_slice) : 0;
		uint64_t m = by_range < by_budget ? by_range : by_budget;
		cz = m > in->nz ? in->nz : (uint32_t)m;
	}
	if (cz > in->nz)
		cz = in->nz;
	if (cz == 0 || cz * sig_slice > range || cz * out_slice > range ||
	    fixed + cz * (sig_slice + scratch_slice) > budget) {
		ms_log_error("perfusion: a chunk of %u slices (%llu bytes of signal) exceeds one binding "
			     "(%llu) or the memory budget (%llu)", cz ? cz : 1,
			     (unsigned long long)((cz ? cz : 1) * sig_slice), (unsigned long long)range,
			     (unsigned long long)budget);
		return MS_ERR_ARG;
	}
	u->cz = cz;
	u->n_chunks = (in->nz + cz - 1) / cz;
	uint64_t resident_bytes = fixed + (uint64_t)u->n_chunks * cz * sig_slice + cz * scratch_slice;
	u->resident = resident_bytes <= budget;
	return MS_OK;
}

static ms_status make_kernel(run *u, const uint32_t *spirv, size_t size, uint32_t n_bindings,
			     uint32_t push, const uint32_t *spec, uint32_t n_spec, ms_vk_kernel **k)
{
	ms_kernel_desc d = {
		.spirv = spirv,
		.spirv_size = size,
		.n_bindings = n_bindings,
		.push_size = push,
		.spec = spec,
		.n_spec = n_spec,
	};

	return ms_vk_kernel_create(u->c, &d, k);
}

static ms_status run_voxel_kernel(run *u, ms_vk_kernel *k, uint32_t ci, ms_vk_buffer *sig,
				  voxel_push *pc)
{
	size_t cv = u->slice * chunk_slices(u, ci);
	ms_vk_binding b[5] = {
		{ sig, 0, (size_t)u->in->nt * cv * sizeof(float) },
		{ u->mask, 0, 0 },
		{ u->out, 0, 0 },
		{ u->tab, 0, 0 },
		{ u->utab, 0, 0 },
	};
	double ms = 0;

	pc->nv = (uint32_t)cv;
	pc->n_groups = (uint32_t)((cv + WG - 1) / WG);
	uint32_t groups[3] = { pc->n_groups, 1, 1 };
	ms_status rc = ms_vk_kernel_run(k, b, 5, pc, sizeof(*pc), groups, &ms);
	u->r->gpu_ms += ms;
	return rc;
}

/* Copies maps [m0, m1] and the SVD_P slot of the chunk's output into the result. */
static void take_maps(run *u, uint32_t ci, int m0, int m1)
{
	const float *o = ms_vk_buffer_map(u->out);
	size_t cv = u->slice * chunk_slices(u, ci), at = (size_t)ci * u->cz * u->slice;

	for (int m = m0; m <= m1; m++)
		memcpy(u->r->map[m] + at, o + m * cv, cv * sizeof(float));
	memcpy(u->r->map[MS_PERF_SVD_P] + at, o + MS_PERF_SVD_P * cv, cv * sizeof(float));
}

static ms_status pass_roi(run *u, double *roi)
{
	uint32_t nt = u->in->nt;
	ms_status rc;

	for (uint32_t ci = 0; ci < u->n_chunks; ci++) {
		ms_vk_buffer *sig;
		rc = get_chunk(u, ci, &sig);
		if (rc != MS_OK)
			return rc;
		put_mask(u, ci);
		size_t cv = u->slice * chunk_slices(u, ci);
		roi_push pc = {
			.nv = (uint32_t)cv,
			.n_groups = (uint32_t)((cv + ROI_VOX_PER_GROUP - 1) / ROI_VOX_PER_GROUP),
			.vox_per_group = ROI_VOX_PER_GROUP,
		};
		ms_vk_binding b[3] = {
			{ sig, 0, (size_t)nt * cv * sizeof(float) },
			{ u->mask, 0, 0 },
			{ u->part, 0, 0 },
		};
		uint32_t groups[3] = { pc.n_groups, 1, 1 };
		double ms = 0;
		rc = ms_vk_kernel_run(u->roi, b, 3, &pc, sizeof(pc), groups, &ms);
		u->r->gpu_ms += ms;
		if (rc != MS_OK)
			return rc;
		const float *part = ms_vk_buffer_map(u->part);
		for (uint32_t g = 0; g < pc.n_groups; g++)
			for (uint32_t t = 0; t < nt; t++)
				roi[t] += part[(size_t)g * nt + t];
	}
	for (uint32_t t = 0; t < nt; t++)
		roi[t] /= (double)u->r->n_mask;
	return MS_OK;
}

/* AIF curve: mean concentration of the chosen voxels, from the signal buffers on the host. */
static ms_status aif_curve(run *u, const uint64_t *vox, int n, int b)
{
	double c[MS_PERF_MAX_T];
	ms_status rc;

	for (int i = 0; i < n; i++) {
		uint64_t v = vox[i];
		uint32_t ci = (uint32_t)(v / u->slice / u->cz);
		ms_vk_buffer *sig;
		rc = get_chunk(u, ci, &sig);
		if (rc != MS_OK)
			return rc;
		const float *base = ms_vk_buffer_map(sig);
		size_t cv = u->slice * chunk_slices(u, ci);
		ms_perf_ref_conc(&u->s, base + (v - (uint64_t)ci * u->cz * u->slice), cv, u->in->nt, b, c);
		for (uint32_t k = 0; k < u->in->nt; k++)
			u->r->aif[k] += c[k] / n;
		u->r->aif_voxel[i][0] = (uint32_t)(v % u->in->nx);
		u->r->aif_voxel[i][1] = (uint32_t)(v / u->in->nx % u->in->ny);
		u->r->aif_voxel[i][2] = (uint32_t)(v / u->slice);
	}
	u->r->n_aif = n;
	return MS_OK;
}

/* Uploads t, the grid, P values and the SVD components (u_i / s_i and v_i, i < kept[0]). */
static ms_status upload_tables(run *u, const ms_perf_deconv *d, uint32_t kmax)
{
	uint32_t nt = u->in->nt, n = d->n, l = d->l, np = u->s.n_p;
	size_t nf = nt + n + np + (size_t)kmax * n + (size_t)kmax * l;
	ms_status rc;

	ms_vk_buffer_destroy(u->tab);
	ms_vk_buffer_destroy(u->utab);
	u->tab = u->utab = NULL;
	rc = ms_vk_buffer_create(u->c, nf * sizeof(float), MS_MEM_HOST, &u->tab);
	if (rc != MS_OK)
		return rc;
	rc = ms_vk_buffer_create(u->c, (n + np) * sizeof(uint32_t), MS_MEM_HOST, &u->utab);
	if (rc != MS_OK)
		return rc;
	float *f = ms_vk_buffer_map(u->tab);
	uint32_t *ui = ms_vk_buffer_map(u->utab);
	for (uint32_t k = 0; k < nt; k++)
		*f++ = (float)u->in->t_s[k];
	for (uint32_t j = 0; j < n; j++) {
		*f++ = (float)d->w[j];
		ui[j] = d->idx[j];
	}
	for (uint32_t k = 0; k < np; k++) {
		*f++ = (float)u->s.p_list[k];
		ui[n + k] = d->kept[k];
	}
	for (uint32_t i = 0; i < kmax; i++)
		for (uint32_t j = 0; j < n; j++)
			*f++ = i < d->kept[0] ? (float)(d->u[(size_t)j * l + i] / d->sv[i]) : 0.0f;
	for (uint32_t i = 0; i < kmax; i++)
		for (uint32_t j = 0; j < l; j++)
			*f++ = i < d->kept[0] ? (float)d->v[(size_t)j * l + i] : 0.0f;
	return MS_OK;
}

ms_status ms_perf_gpu(ms_vk_context *c, const ms_perf_input *in, const ms_perf_params *p,
		      ms_perf_result *r)
{
	run u = { .c = c, .in = in, .r = r, .streamed_chunk = -1 };
	ms_perf_deconv d = { 0 };
	float *frame0 = NULL;
	double *roi = NULL;
	ms_status rc;

	if (!r)
		return MS_ERR_ARG;
	ms_perf_result_clear(r);
	if (!c) {
		ms_log_error("perfusion: no Vulkan context");
		return MS_ERR_ARG;
	}
	rc = ms_perf_ref_setup(in, p, &u.s);
	if (rc != MS_OK)
		return rc;
	u.slice = (size_t)in->nx * in->ny;
	u.nvox = u.slice * in->nz;
	uint32_t nt = in->nt;
	rc = plan(&u, p);
	if (rc != MS_OK)
		return rc;
	rc = ms_perf_ref_result_alloc(in, r);
	if (rc != MS_OK)
		return rc;
	r->streamed = !u.resident;
	r->chunk_slices = u.cz;
	r->n_chunks = u.n_chunks;
	size_t ccv = u.slice * u.cz; /* voxels of a full chunk */
	u.sig = ms_calloc(u.n_chunks, sizeof(*u.sig));
	u.loaded = ms_calloc(u.n_chunks, sizeof(bool));
	frame0 = ms_malloc(u.nvox * sizeof(float));
	roi = ms_calloc(nt, sizeof(double));
	if (!u.sig || !u.loaded || !frame0 || !roi) {
		rc = MS_ERR_NOMEM;
		goto out;
	}
	uint32_t roi_spec[1] = { nt };
	uint32_t maps_spec[7] = { nt, 0, 1, 1, 1, 1, u.s.p.kind == MS_PERF_DSC };
	rc = make_kernel(&u, ms_spv_perf_roi, ms_spv_perf_roi_size, 3, sizeof(roi_push), roi_spec, 1,
			 &u.roi);
	if (rc != MS_OK)
		goto out;
	rc = make_kernel(&u, ms_spv_perf_voxel, ms_spv_perf_voxel_size, 5, sizeof(voxel_push),
			 maps_spec, 7, &u.maps);
	if (rc != MS_OK)
		goto out;
	size_t part_groups = (ccv + ROI_VOX_PER_GROUP - 1) / ROI_VOX_PER_GROUP;
	if ((rc = ms_vk_buffer_create(c, ccv * sizeof(uint32_t), MS_MEM_HOST, &u.mask)) != MS_OK ||
	    (rc = ms_vk_buffer_create(c, MS_PERF_N_MAPS * ccv * sizeof(float), MS_MEM_HOST,
				      &u.out)) != MS_OK ||
	    (rc = ms_vk_buffer_create(c, part_groups * nt * sizeof(float), MS_MEM_HOST,
				      &u.part)) != MS_OK)
		goto out;

	/* Load: frame 0 for the mask (the first fill of every chunk). */
	double t0 = now_ms();
	for (uint32_t ci = 0; ci < u.n_chunks; ci++) {
		ms_vk_buffer *sig;
		rc = get_chunk(&u, ci, &sig);
		if (rc != MS_OK)
			goto out;
		memcpy(frame0 + (size_t)ci * ccv, ms_vk_buffer_map(sig),
		       u.slice * chunk_slices(&u, ci) * sizeof(float));
	}
	r->stage_ms[0] = now_ms() - t0;

	t0 = now_ms();
	r->n_mask = ms_perf_ref_mask(&u.s, frame0, u.nvox, r->mask);
	r->stage_ms[1] = now_ms() - t0;
	if (r->n_mask == 0) {
		ms_log_error("perfusion: the tissue mask is empty");
		rc = MS_ERR_INPUT;
		goto out;
	}

	double f0 = u.fill_ms;
	t0 = now_ms();
	rc = pass_roi(&u, roi);
	if (rc != MS_OK)
		goto out;
	int b = ms_perf_ref_baseline(&u.s, roi, nt);
	r->baseline_frames = b;
	r->stage_ms[2] = now_ms() - t0 - (u.fill_ms - f0);

	/* Model-free maps; tab holds the times for the integrals. */
	f0 = u.fill_ms;
	t0 = now_ms();
	rc = ms_vk_buffer_create(c, (nt + 1) * sizeof(float), MS_MEM_HOST, &u.tab);
	if (rc != MS_OK)
		goto out;
	rc = ms_vk_buffer_create(c, sizeof(uint32_t), MS_MEM_HOST, &u.utab);
	if (rc != MS_OK)
		goto out;
	float *tf = ms_vk_buffer_map(u.tab);
	for (uint32_t k = 0; k < nt; k++)
		tf[k] = (float)in->t_s[k];
	voxel_push pc = {
		.b = (uint32_t)b,
		.inv_te = u.s.p.kind == MS_PERF_DSC ? (float)(1.0 / u.s.p.te_s) : 0.0f,
		.oi_limit = (float)u.s.p.osvd_oi,
		.cbf_scale = (float)u.s.cbf_scale,
	};
	for (uint32_t ci = 0; ci < u.n_chunks; ci++) {
		ms_vk_buffer *sig;
		rc = get_chunk(&u, ci, &sig);
		if (rc != MS_OK)
			goto out;
		put_mask(&u, ci);
		rc = run_voxel_kernel(&u, u.maps, ci, sig, &pc);
		if (rc != MS_OK)
			goto out;
		take_maps(&u, ci, MS_PERF_PE, MS_PERF_MTT_FM);
	}
	r->stage_ms[3] = now_ms() - t0 - (u.fill_ms - f0);

	/* AIF on the host (a few voxels; ranking the maps). */
	f0 = u.fill_ms;
	t0 = now_ms();
	uint64_t chosen[MS_PERF_MAX_AIF];
	int n_aif = 1;
	if (u.s.p.aif_given) {
		chosen[0] = u.s.p.aif_xyz[0] + (uint64_t)in->nx * (u.s.p.aif_xyz[1] +
								     (uint64_t)in->ny * u.s.p.aif_xyz[2]);
	} else {
		r->aif_automatic = true;
		n_aif = ms_perf_ref_select_aif(r->map[MS_PERF_PE], r->map[MS_PERF_TTP],
					       r->map[MS_PERF_AUC], r->map[MS_PERF_SVD_P], r->mask,
					       in->nx, in->ny, in->nz, u.s.p.aif_voxels, chosen);
		if (n_aif < 0) {
			rc = MS_ERR_NOMEM;
			goto out;
		}
		if (n_aif == 0) {
			ms_log_error("perfusion: no AIF candidate in the tissue mask");
			rc = MS_ERR_INPUT;
			goto out;
		}
	}
	rc = aif_curve(&u, chosen, n_aif, b);
	if (rc != MS_OK)
		goto out;
	r->stage_ms[4] = now_ms() - t0 - (u.fill_ms - f0);

	/* One SVD per study; the components go to the GPU. */
	t0 = now_ms();
	rc = ms_perf_ref_deconv_init(&u.s, r->aif, in->t_s, nt, &d);
	if (rc != MS_OK)
		goto out;
	r->dt_s = d.dt;
	r->n_deconv = d.n;
	r->resampled = d.resampled;
	uint32_t kmax = d.kept[0] ? d.kept[0] : 1;
	rc = upload_tables(&u, &d, kmax);
	if (rc != MS_OK)
		goto out;
	uint32_t dec_spec[7] = { nt, 1, d.n, d.l, u.s.n_p, kmax, u.s.p.kind == MS_PERF_DSC };
	rc = make_kernel(&u, ms_spv_perf_voxel, ms_spv_perf_voxel_size, 5, sizeof(voxel_push),
			 dec_spec, 7, &u.deconv);
	if (rc != MS_OK)
		goto out;
	r->stage_ms[5] = now_ms() - t0;

	f0 = u.fill_ms;
	t0 = now_ms();
	pc.cbv_k = (float)(u.s.cbv_scale / d.aif_auc);
	pc.dt = (float)d.dt;
	for (uint32_t ci = 0; ci < u.n_chunks; ci++) {
		ms_vk_buffer *sig;
		rc = get_chunk(&u, ci, &sig);
		if (rc != MS_OK)
			goto out;
		put_mask(&u, ci);
		rc = run_voxel_kernel(&u, u.deconv, ci, sig, &pc);
		if (rc != MS_OK)
			goto out;
		take_maps(&u, ci, MS_PERF_CBF, MS_PERF_TMAX);
	}
	r->stage_ms[6] = now_ms() - t0 - (u.fill_ms - f0);

	t0 = now_ms();
	rc = ms_perf_ref_stats(&u.s, r);
	r->stage_ms[7] = now_ms() - t0;
	r->stage_ms[0] = u.fill_ms;
out:
	ms_perf_ref_deconv_clear(&d);
	run_close(&u);
	ms_free(roi);
	ms_free(frame0);
	if (rc != MS_OK)
		ms_perf_result_clear(r);
	return rc;
}
