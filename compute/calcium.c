#include "compute/calcium.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/log.h"
#include "compute/calcium_ref.h"
#include "compute/vk_buffer.h"
#include "compute/vk_kernel.h"
/* The generated header's first comment contains "shaders/" "*.comp" (cmake/embed.cmake). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wcomment"
#include "ms_shaders.h"
#pragma GCC diagnostic pop

/* ---- Shared by the GPU path and the reference ---------------------------------------------- */

static const char *const stage_names[MS_CAC_STAGES] = {
	"upload", "threshold", "ccl", "stats", "filter", "lesions", "output", "isotropic",
};

/* kVp -> threshold and weight edges 2/3/4 (ANALYSES.md 1.1). */
static const double kvp_table[][5] = {
	{ 70, 207, 318, 477, 636 },
	{ 80, 177, 271, 408, 544 },
	{ 100, 145, 222, 334, 446 },
	{ 120, 130, 200, 300, 400 },
};

const char *ms_cac_stage_name(int i)
{
	return i >= 0 && i < MS_CAC_STAGES ? stage_names[i] : "?";
}

int ms_cac_category(double agatston)
{
	double a = round(agatston);

	if (a <= 0)
		return 0;
	if (a <= 10)
		return 1;
	if (a <= 100)
		return 2;
	if (a <= 400)
		return 3;
	return 4;
}

void ms_cac_params_default(ms_cac_params *p, ms_cac_profile profile)
{
	memset(p, 0, sizeof(*p));
	p->profile = profile;
	p->threshold_hu = 130;
	p->connectivity = 4;
	p->min_area_mm2 = 1.0;
	p->max_hu = 2000;
	switch (profile) {
	case MS_CAC_PROFILE_SIEMENS:
		p->min_area_mm2 = 0;
		break;
	case MS_CAC_PROFILE_PHILIPS:
		p->min_area_mm2 = 0.5;
		break;
	case MS_CAC_PROFILE_CANON:
		p->min_area_mm2 = 0;
		p->min_pixels = 3;
		break;
	default:
		break;
	}
}

static bool positive(double x)
{
	return isfinite(x) && x > 0;
}

ms_status ms_cac_setup_resolve(const ms_volume *vol, const ms_cac_params *p, ms_cac_setup *s)
{
	memset(s, 0, sizeof(*s));
	if (!vol || !p || !vol->voxels || !vol->nx || !vol->ny || !vol->nz) {
		ms_log_error("calcium: missing or empty volume");
		return MS_ERR_ARG;
	}
	/* Both implementations index voxels (and the GPU labels them 1-based) in 32 bits. */
	if ((uint64_t)vol->nx * vol->ny * vol->nz >= UINT32_MAX) {
		ms_log_error("calcium: %ux%ux%u voxels exceed the 32-bit index space", vol->nx,
			     vol->ny, vol->nz);
		return MS_ERR_ARG;
	}
	s->dx = vol->geom.spacing[0];
	s->dy = vol->geom.spacing[1];
	s->dz = vol->geom.spacing[2];
	if (!positive(s->dx) || !positive(s->dy) || !positive(s->dz)) {
		ms_log_error("calcium: voxel spacing %g x %g x %g invalid", s->dx, s->dy, s->dz);
		return MS_ERR_ARG;
	}
	if ((p->connectivity != 4 && p->connectivity != 8) || !isfinite(p->min_area_mm2) ||
	    p->min_area_mm2 < 0 || p->min_pixels < 0 || (p->volume_method != 0 && p->volume_method != 1) ||
	    !isfinite(p->mass_calibration) || p->mass_calibration < 0 || !isfinite(p->max_hu) ||
	    p->max_hu < 0 || !isfinite(p->kvp) || p->kvp < 0) {
		ms_log_error("calcium: invalid parameters (connectivity %d, min area %g, min pixels %d, "
			     "volume method %d, calibration %g, max HU %g, kVp %g)",
			     p->connectivity, p->min_area_mm2, p->min_pixels, p->volume_method,
			     p->mass_calibration, p->max_hu, p->kvp);
		return MS_ERR_ARG;
	}
	s->thr = p->threshold_hu;
	s->edges[0] = 200;
	s->edges[1] = 300;
	s->edges[2] = 400;
	if (p->kvp_adjust) {
		size_t i, n = sizeof(kvp_table) / sizeof(kvp_table[0]);
		for (i = 0; i < n && fabs(kvp_table[i][0] - p->kvp) > 1; i++)
			;
		if (i == n) {
			ms_log_error("calcium: no kVp-adjusted thresholds for %g kV (70, 80, 100, 120)",
				     p->kvp);
			return MS_ERR_ARG;
		}
		s->thr = kvp_table[i][1];
		s->edges[0] = kvp_table[i][2];
		s->edges[1] = kvp_table[i][3];
		s->edges[2] = kvp_table[i][4];
	} else if (p->kvp > 0 && fabs(p->kvp - 120) > 1) {
		ms_log_warning("calcium: %g kV scan scored with 120 kV thresholds", p->kvp);
	}
	/* > 0 keeps candidates positive: the GPU takes peaks with atomicMax on float bits. */
	if (!positive(s->thr) || s->thr > 1e30) {
		ms_log_error("calcium: threshold %g HU invalid (must be > 0)", s->thr);
		return MS_ERR_ARG;
	}
	s->thr_f = (float)s->thr;
	if ((double)s->thr_f < s->thr)
		s->thr_f = nextafterf(s->thr_f, INFINITY);

	/* Relative epsilon: 1 mm2 / 0.25 mm2 must give 4, not 5 after rounding noise. */
	double q = p->min_area_mm2 / (s->dx * s->dy);
	double need = ceil(q - 1e-9 * (q > 1 ? q : 1));
	if (need > 4294967295.0)
		need = 4294967295.0;
	s->n_min = need < 1 ? 1 : (uint32_t)need;
	if ((uint32_t)p->min_pixels > s->n_min)
		s->n_min = (uint32_t)p->min_pixels;
	return MS_OK;
}

int ms_cac_weight(const ms_cac_setup *s, double peak)
{
	if (peak >= s->edges[2])
		return 4;
	if (peak >= s->edges[1])
		return 3;
	if (peak >= s->edges[0])
		return 2;
	return 1;
}

void ms_cac_result_totals(ms_cac_result *r, const ms_cac_setup *s, double mass_calibration)
{
	r->agatston = r->volume_mm3 = r->sum_v_hu = 0;
	for (size_t i = 0; i < r->n_lesions; i++) {
		ms_cac_lesion *l = &r->lesions[i];
		l->mass_mg = mass_calibration > 0 ? mass_calibration * l->sum_v_hu : NAN;
		r->agatston += l->agatston;
		r->volume_mm3 += l->volume_mm3;
		r->sum_v_hu += l->sum_v_hu;
	}
	r->mass_mg = mass_calibration > 0 ? mass_calibration * r->sum_v_hu : NAN;
	r->category = ms_cac_category(r->agatston);
	r->threshold_hu = s->thr;
	memcpy(r->weight_edges, s->edges, sizeof(r->weight_edges));
	r->min_pixels = s->n_min;
}

void ms_cac_result_clear(ms_cac_result *r)
{
	if (!r)
		return;
	ms_free(r->lesions);
	ms_free(r->lesion_map);
	memset(r, 0, sizeof(*r));
}

/* ---- GPU ------------------------------------------------------------------------------------ */

#define WG 256u
#define TABLE_WORDS 9u /* per component, see shaders/calcium_stats.comp */

enum { K_LABEL, K_MERGE, K_FLATTEN, K_STATS, K_RELABEL, K_ZMERGE, K_FINAL, K_COUNT };

/* Must match the push block of shaders/calcium_*.comp. */
typedef struct {
	uint32_t n, n_groups, nx, ny, gbase, hu_bias, roi_bias, lab_bias, comp_base, n_min;
	float thr;
} push_block;

/* One component as calcium_stats.comp leaves it. */
typedef struct {
	uint32_t root, cnt, peak, sum_lo, sum_hi, sx_lo, sx_hi, sy_lo, sy_hi;
} comp_row;

/* A lesion being accumulated on the host from its components. */
typedef struct {
	uint64_t n, wn;         /* voxels; sum of n * weight */
	uint32_t min_root;      /* lowest voxel: the ordering key */
	uint32_t z_first, z_last;
	float peak;
	double sum_hu, sx, sy, sz;
	uint32_t id;
} lesion_acc;

typedef struct {
	ms_vk_context *c; /* borrowed */
	const ms_volume *vol;
	ms_cac_setup s;
	uint64_t plane, n;
	uint32_t slices;   /* per chunk */
	size_t align;
	bool has_roi;
	ms_vk_kernel *k[K_COUNT];
	ms_vk_buffer *hu, *roi, *lab, *aux, *counter, *table, *parent, *lesion;
	size_t table_cap;  /* components */
	comp_row *comps;   /* host copy of every chunk's table, global ids */
	uint32_t n_comps, comps_cap;
	double gpu_ms;
} session;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void session_close(session *g)
{
	for (int i = 0; i < K_COUNT; i++)
		ms_vk_kernel_destroy(g->k[i]);
	ms_vk_buffer_destroy(g->lesion);
	ms_vk_buffer_destroy(g->parent);
	ms_vk_buffer_destroy(g->table);
	ms_vk_buffer_destroy(g->counter);
	ms_vk_buffer_destroy(g->aux);
	ms_vk_buffer_destroy(g->lab);
	ms_vk_buffer_destroy(g->roi);
	ms_vk_buffer_destroy(g->hu);
	ms_free(g->comps);
	memset(g, 0, sizeof(*g));
}

/* Binding of elements [first, first + count) of b (elem bytes each): the offset is aligned
 * down to minStorageBufferOffsetAlignment and *bias is the index of 'first' within it. */
static ms_vk_binding bind_range(const session *g, ms_vk_buffer *b, size_t elem, uint64_t first,
				uint64_t count, uint32_t *bias)
{
	size_t start = (size_t)first * elem, off = start / g->align * g->align;
	size_t len = ((size_t)(first + count) * elem - off + 15) & ~(size_t)15;
	size_t cap = ms_vk_buffer_capacity(b);

	if (len > cap - off)
		len = cap - off;
	if (bias)
		*bias = (uint32_t)((start - off) / elem);
	return (ms_vk_binding){ b, off, len };
}

static ms_status run(session *g, int k, const ms_vk_binding *b, uint32_t nb, push_block *pc)
{
	uint32_t groups[3] = { (uint32_t)((pc->n + WG - 1) / WG), 1, 1 };
	double ms = 0;
	ms_status rc;

	pc->n_groups = groups[0];
	rc = ms_vk_kernel_run(g->k[k], b, nb, pc, sizeof(*pc), groups, &ms);
	g->gpu_ms += ms;
	return rc;
}

static ms_status session_open(session *g, ms_vk_context *c, const ms_volume *vol,
			      const uint8_t *roi, const ms_cac_params *p)
{
	const VkPhysicalDeviceProperties *props = ms_vk_context_properties(c);
	uint64_t range = ms_vk_context_max_buffer_range(c);
	ms_status rc;

	g->c = c;
	g->vol = vol;
	g->has_roi = roi != NULL;
	g->plane = (uint64_t)vol->nx * vol->ny;
	g->n = g->plane * vol->nz;
	g->align = props->limits.minStorageBufferOffsetAlignment;
	if (g->align < 4 || (g->align & (g->align - 1)))
		g->align = 256; /* not a power of two: 256 is always accepted by the kernel layer */
	/* Per chunk: one slice more for the adjacent-slice pass, plus alignment slack, must fit in
	 * one binding; so must the worst-case component table (a checkerboard: half the pixels). */
	uint64_t slack = g->align + 16;
	uint64_t by_labels = range > slack ? (range - slack) / 4 / g->plane : 0;
	uint64_t by_table = range / (TABLE_WORDS * 4) / ((g->plane + 1) / 2);
	uint64_t s = by_labels > 0 ? by_labels - 1 : 0;
	if (by_table < s)
		s = by_table;
	if (p->chunk_slices && p->chunk_slices < s)
		s = p->chunk_slices;
	if (s == 0) {
		ms_log_error("calcium: a %ux%u slice does not fit in one binding (%llu bytes)",
			     vol->nx, vol->ny, (unsigned long long)range);
		return MS_ERR_ARG;
	}
	g->slices = s < vol->nz ? (uint32_t)s : vol->nz;

	static const struct {
		const uint32_t *spirv;
		const size_t *size;
		uint32_t n_bindings;
	} kd[K_COUNT] = {
		[K_LABEL] = { ms_spv_calcium_label, &ms_spv_calcium_label_size, 3 },
		[K_MERGE] = { ms_spv_calcium_merge, &ms_spv_calcium_merge_size, 1 },
		[K_FLATTEN] = { ms_spv_calcium_flatten, &ms_spv_calcium_flatten_size, 3 },
		[K_STATS] = { ms_spv_calcium_stats, &ms_spv_calcium_stats_size, 4 },
		[K_RELABEL] = { ms_spv_calcium_relabel, &ms_spv_calcium_relabel_size, 3 },
		[K_ZMERGE] = { ms_spv_calcium_zmerge, &ms_spv_calcium_zmerge_size, 2 },
		[K_FINAL] = { ms_spv_calcium_final, &ms_spv_calcium_final_size, 2 },
	};
	for (int i = 0; i < K_COUNT; i++) {
		uint32_t spec = 0;
		if (i == K_LABEL)
			spec = roi != NULL;
		else if (i == K_MERGE)
			spec = p->connectivity == 8;
		ms_kernel_desc d = {
			.spirv = kd[i].spirv,
			.spirv_size = *kd[i].size,
			.n_bindings = kd[i].n_bindings,
			.push_size = sizeof(push_block),
			.spec = &spec,
			.n_spec = (i == K_LABEL || i == K_MERGE) ? 1 : 0,
		};
		rc = ms_vk_kernel_create(c, &d, &g->k[i]);
		if (rc != MS_OK)
			return rc;
	}
	rc = ms_vk_buffer_create(c, g->n * sizeof(float), MS_MEM_DEVICE, &g->hu);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, roi ? g->n : 16, MS_MEM_DEVICE, &g->roi);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, g->n * sizeof(uint32_t), MS_MEM_DEVICE, &g->lab);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, g->slices * g->plane * sizeof(uint32_t), MS_MEM_DEVICE,
					 &g->aux);
	if (rc == MS_OK)
		rc = ms_vk_buffer_create(c, 16, MS_MEM_DEVICE, &g->counter);
	return rc;
}

/* Makes the component table hold at least m rows (contents are zeroed later). */
static ms_status table_reserve(session *g, size_t m)
{
	if (g->table && g->table_cap >= m)
		return MS_OK;
	size_t cap = g->table_cap * 2 > m ? g->table_cap * 2 : m;
	size_t max = ms_vk_context_max_buffer_range(g->c) / sizeof(comp_row);
	if (cap > max)
		cap = max > m ? max : m;
	ms_vk_buffer_destroy(g->table);
	g->table = NULL;
	g->table_cap = 0;
	ms_status rc = ms_vk_buffer_create(g->c, cap * sizeof(comp_row), MS_MEM_DEVICE, &g->table);
	if (rc == MS_OK)
		g->table_cap = cap;
	return rc;
}

/* Appends m rows read from the device table to g->comps. */
static ms_status comps_append(session *g, uint32_t m)
{
	if ((uint64_t)g->n_comps + m > g->comps_cap) {
		uint64_t cap = (uint64_t)g->comps_cap * 2;
		if (cap < (uint64_t)g->n_comps + m)
			cap = (uint64_t)g->n_comps + m;
		if (cap > UINT32_MAX)
			return MS_ERR_ARG;
		comp_row *nc = ms_realloc(g->comps, cap * sizeof(comp_row));
		if (!nc)
			return MS_ERR_NOMEM;
		g->comps = nc;
		g->comps_cap = (uint32_t)cap;
	}
	ms_status rc = ms_vk_buffer_read(g->table, 0, g->comps + g->n_comps, (size_t)m * sizeof(comp_row));
	if (rc == MS_OK)
		g->n_comps += m;
	return rc;
}

/* Stages 1-4 over the chunk of slices [z0, z1). */
static ms_status chunk_components(session *g, uint32_t z0, uint32_t z1, double *stage)
{
	uint64_t first = z0 * g->plane, count = (z1 - z0) * g->plane;
	push_block pc = {
		.n = (uint32_t)count,
		.nx = g->vol->nx,
		.ny = g->vol->ny,
		.gbase = (uint32_t)first,
		.comp_base = g->n_comps,
		.n_min = g->s.n_min,
		.thr = g->s.thr_f,
	};
	ms_vk_binding hu = bind_range(g, g->hu, sizeof(float), first, count, &pc.hu_bias);
	/* Without a ROI the shader never reads its 16-byte dummy. */
	ms_vk_binding roi = { g->roi, 0, 0 };
	ms_vk_binding lab = bind_range(g, g->lab, sizeof(uint32_t), first, count, &pc.lab_bias);
	ms_vk_binding aux = { g->aux, 0, 0 };
	ms_vk_binding counter = { g->counter, 0, 0 };
	uint32_t m = 0;
	ms_status rc;
	double t = now_ms();

	if (g->has_roi)
		roi = bind_range(g, g->roi, 1, first, count, &pc.roi_bias);
	rc = run(g, K_LABEL, (ms_vk_binding[]){ hu, roi, lab }, 3, &pc);
	if (rc != MS_OK)
		return rc;
	stage[1] += now_ms() - t;
	t = now_ms();
	rc = run(g, K_MERGE, &lab, 1, &pc);
	if (rc == MS_OK)
		rc = ms_vk_buffer_fill(g->counter, 0);
	if (rc == MS_OK)
		rc = run(g, K_FLATTEN, (ms_vk_binding[]){ lab, aux, counter }, 3, &pc);
	if (rc == MS_OK)
		rc = ms_vk_buffer_read(g->counter, 0, &m, sizeof(m));
	stage[2] += now_ms() - t;
	if (rc != MS_OK || m == 0)
		return rc;
	t = now_ms();
	if (m > count) {
		ms_log_error("calcium: GPU found %u components in %llu voxels", m,
			     (unsigned long long)count);
		return MS_ERR_VULKAN;
	}
	rc = table_reserve(g, m);
	if (rc == MS_OK)
		rc = ms_vk_buffer_fill(g->table, 0);
	ms_vk_binding table = { g->table, 0, 0 };
	if (rc == MS_OK)
		rc = run(g, K_STATS, (ms_vk_binding[]){ hu, lab, aux, table }, 4, &pc);
	if (rc == MS_OK)
		rc = comps_append(g, m);
	stage[3] += now_ms() - t;
	if (rc != MS_OK)
		return rc;
	t = now_ms();
	rc = run(g, K_RELABEL, (ms_vk_binding[]){ lab, aux, table }, 3, &pc);
	stage[4] += now_ms() - t;
	return rc;
}

static uint32_t find_root(uint32_t *par, uint32_t v)
{
	uint32_t r = v;

	while (par[r] != r)
		r = par[r];
	while (par[v] != r) { /* path compression */
		uint32_t next = par[v];
		par[v] = r;
		v = next;
	}
	return r;
}

static int cmp_lesion(const void *a, const void *b)
{
	const lesion_acc *x = *(const lesion_acc *const *)a, *y = *(const lesion_acc *const *)b;

	return x->min_root < y->min_root ? -1 : x->min_root > y->min_root;
}

static double sum64(uint32_t lo, uint32_t hi)
{
	return (double)hi * 4294967296.0 + lo;
}

/* Stage 5: unites components across adjacent slices on the GPU, then merges the component
 * rows into lesions on the host and fills *ids (component -> lesion id, 0 = none). */
static ms_status build_lesions(session *g, const ms_cac_params *p, ms_cac_result *r, uint32_t **ids)
{
	uint32_t m = g->n_comps, nz = g->vol->nz;
	uint32_t *par = NULL, *slot = NULL;
	lesion_acc *acc = NULL, **order = NULL;
	size_t n_acc = 0;
	ms_status rc;

	*ids = NULL;
	if ((uint64_t)m * sizeof(uint32_t) > ms_vk_context_max_buffer_range(g->c)) {
		ms_log_error("calcium: %u components exceed one binding", m);
		return MS_ERR_ARG;
	}
	par = ms_malloc((size_t)m * sizeof(uint32_t));
	slot = ms_malloc((size_t)m * sizeof(uint32_t));
	if (!par || !slot) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < m; i++)
		par[i] = i;
	rc = ms_vk_buffer_create(g->c, (size_t)m * sizeof(uint32_t), MS_MEM_DEVICE, &g->parent);
	if (rc == MS_OK)
		rc = ms_vk_buffer_write(g->parent, 0, par, (size_t)m * sizeof(uint32_t));
	for (uint32_t z0 = 0; rc == MS_OK && z0 < nz; z0 += g->slices) {
		uint32_t zs = z0 ? z0 : 1, z1 = z0 + g->slices < nz ? z0 + g->slices : nz;
		if (zs >= z1)
			continue;
		push_block pc = { .n = (uint32_t)((z1 - zs) * g->plane), .nx = g->vol->nx, .ny = g->vol->ny };
		ms_vk_binding b[2] = {
			bind_range(g, g->lab, sizeof(uint32_t), (zs - 1) * g->plane,
				   (z1 - zs + 1) * g->plane, &pc.lab_bias),
			{ g->parent, 0, 0 },
		};
		rc = run(g, K_ZMERGE, b, 2, &pc);
	}
	if (rc == MS_OK)
		rc = ms_vk_buffer_read(g->parent, 0, par, (size_t)m * sizeof(uint32_t));
	if (rc != MS_OK)
		goto out_free;

	/* Host: one pass over the (small) component table. */
	acc = ms_calloc(m, sizeof(lesion_acc));
	if (!acc) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	for (uint32_t i = 0; i < m; i++)
		slot[i] = UINT32_MAX;
	for (uint32_t i = 0; i < m; i++) {
		const comp_row *cr = &g->comps[i];
		if (cr->cnt < g->s.n_min)
			continue;
		uint32_t root = find_root(par, i);
		if (slot[root] == UINT32_MAX) {
			slot[root] = (uint32_t)n_acc;
			acc[n_acc].min_root = UINT32_MAX;
			acc[n_acc].z_first = UINT32_MAX;
			n_acc++;
		}
		lesion_acc *l = &acc[slot[root]];
		float peak;
		memcpy(&peak, &cr->peak, sizeof(peak));
		uint32_t z = (uint32_t)(cr->root / g->plane);
		l->n += cr->cnt;
		l->wn += (uint64_t)cr->cnt * (uint64_t)ms_cac_weight(&g->s, peak);
		if (cr->root < l->min_root)
			l->min_root = cr->root;
		if (z < l->z_first)
			l->z_first = z;
		if (z > l->z_last)
			l->z_last = z;
		if (peak > l->peak)
			l->peak = peak;
		l->sum_hu += sum64(cr->sum_lo, cr->sum_hi) / 65536.0;
		l->sx += sum64(cr->sx_lo, cr->sx_hi);
		l->sy += sum64(cr->sy_lo, cr->sy_hi);
		l->sz += (double)cr->cnt * z;
	}
	order = ms_malloc((n_acc ? n_acc : 1) * sizeof(*order));
	if (!order) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	size_t kept = 0;
	for (size_t i = 0; i < n_acc; i++) {
		if (p->max_hu > 0 && acc[i].peak > p->max_hu)
			continue;
		order[kept++] = &acc[i];
	}
	qsort(order, kept, sizeof(*order), cmp_lesion);
	r->lesions = ms_calloc(kept ? kept : 1, sizeof(ms_cac_lesion));
	if (!r->lesions) {
		rc = MS_ERR_NOMEM;
		goto out_free;
	}
	r->n_lesions = kept;
	double dv = g->s.dx * g->s.dy * g->s.dz;
	for (size_t i = 0; i < kept; i++) {
		lesion_acc *a = order[i];
		ms_cac_lesion *l = &r->lesions[i];
		a->id = (uint32_t)i + 1;
		l->id = a->id;
		l->n_voxels = (uint32_t)a->n;
		l->agatston = g->s.dz / 3.0 * g->s.dx * g->s.dy * (double)a->wn;
		l->volume_mm3 = (double)a->n * dv;
		l->peak_hu = a->peak;
		l->mean_hu = a->sum_hu / (double)a->n;
		l->sum_v_hu = l->volume_mm3 * l->mean_hu;
		l->z_first = a->z_first;
		l->z_last = a->z_last;
		l->centroid[0] = a->sx / (double)a->n;
		l->centroid[1] = a->sy / (double)a->n;
		l->centroid[2] = a->sz / (double)a->n;
	}
	/* par becomes the component -> lesion id table for the map (0 = dropped): first every
	 * entry points straight at its root, then each entry reads only itself. */
	for (uint32_t i = 0; i < m; i++)
		par[i] = find_root(par, i);
	for (uint32_t i = 0; i < m; i++) {
		uint32_t root = par[i];
		par[i] = g->comps[i].cnt >= g->s.n_min ? acc[slot[root]].id : 0;
	}
	*ids = par;
	par = NULL;
out_free:
	ms_free(order);
	ms_free(acc);
	ms_free(slot);
	ms_free(par);
	return rc;
}

/* Stage 6: component ids -> lesion ids on the GPU, then the map comes back. */
static ms_status write_map(session *g, const uint32_t *ids, ms_cac_result *r)
{
	uint32_t m = g->n_comps, nz = g->vol->nz;
	ms_status rc;

	r->lesion_map = ms_calloc(g->n, sizeof(uint32_t));
	if (!r->lesion_map)
		return MS_ERR_NOMEM;
	if (m == 0)
		return MS_OK; /* no candidates: every label is already 0 */
	rc = ms_vk_buffer_create(g->c, (size_t)m * sizeof(uint32_t), MS_MEM_DEVICE, &g->lesion);
	if (rc == MS_OK)
		rc = ms_vk_buffer_write(g->lesion, 0, ids, (size_t)m * sizeof(uint32_t));
	for (uint32_t z0 = 0; rc == MS_OK && z0 < nz; z0 += g->slices) {
		uint32_t z1 = z0 + g->slices < nz ? z0 + g->slices : nz;
		push_block pc = { .n = (uint32_t)((z1 - z0) * g->plane) };
		ms_vk_binding b[2] = {
			bind_range(g, g->lab, sizeof(uint32_t), z0 * g->plane, (z1 - z0) * g->plane,
				   &pc.lab_bias),
			{ g->lesion, 0, 0 },
		};
		rc = run(g, K_FINAL, b, 2, &pc);
	}
	if (rc == MS_OK)
		rc = ms_vk_buffer_read(g->lab, 0, r->lesion_map, g->n * sizeof(uint32_t));
	return rc;
}

ms_status ms_cac_gpu(ms_vk_context *c, const ms_volume *vol, const uint8_t *roi,
		     const ms_cac_params *p, ms_cac_result *r)
{
	session g;
	uint32_t *ids = NULL;
	double stage[MS_CAC_STAGES] = { 0 };
	ms_status rc;

	ms_cac_result_clear(r);
	memset(&g, 0, sizeof(g));
	if (!c)
		return MS_ERR_ARG;
	rc = ms_cac_setup_resolve(vol, p, &g.s);
	if (rc != MS_OK)
		return rc;
	rc = session_open(&g, c, vol, roi, p);
	if (rc != MS_OK)
		goto out_close;

	double t = now_ms();
	rc = ms_vk_buffer_write(g.hu, 0, vol->voxels, g.n * sizeof(float));
	if (rc == MS_OK && roi)
		rc = ms_vk_buffer_write(g.roi, 0, roi, g.n);
	stage[0] = now_ms() - t;
	for (uint32_t z0 = 0; rc == MS_OK && z0 < vol->nz; z0 += g.slices) {
		uint32_t z1 = z0 + g.slices < vol->nz ? z0 + g.slices : vol->nz;
		rc = chunk_components(&g, z0, z1, stage);
	}
	if (rc != MS_OK)
		goto out_close;
	r->n_components = g.n_comps;

	t = now_ms();
	if (g.n_comps) {
		rc = build_lesions(&g, p, r, &ids);
	} else {
		r->lesions = ms_calloc(1, sizeof(ms_cac_lesion));
		rc = r->lesions ? MS_OK : MS_ERR_NOMEM;
	}
	stage[5] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;
	t = now_ms();
	rc = write_map(&g, ids, r);
	stage[6] = now_ms() - t;
	if (rc != MS_OK)
		goto out_close;
	if (p->volume_method == 1) {
		t = now_ms();
		rc = ms_cac_ref_isotropic(vol, roi, p, &g.s, r);
		stage[7] = now_ms() - t;
		if (rc != MS_OK)
			goto out_close;
	}
	ms_cac_result_totals(r, &g.s, p->mass_calibration);
	r->gpu_ms = g.gpu_ms;
	memcpy(r->stage_ms, stage, sizeof(stage));
out_close:
	ms_free(ids);
	session_close(&g);
	if (rc != MS_OK)
		ms_cac_result_clear(r);
	return rc;
}
