#version 450
// Calcium stage 2a: per-slice 2-D union-find (Playne & Hawick style). Each candidate unites
// its set with the sets of its already-visited-direction neighbours in the same slice: left
// and up (4-connectivity), plus up-left and up-right (8-connectivity). Unions link the
// larger root under the smaller one with atomicMin, retrying when another thread linked the
// root first, so the result does not depend on scheduling: every set ends up rooted at its
// lowest voxel. Labels are 1-based global voxel indices; parents always lie in the same
// slice, hence in the chunk.

layout(local_size_x = 256) in;

layout(constant_id = 0) const uint CONN8 = 0;

layout(std430, binding = 0) coherent buffer Lab { uint lab[]; };

// Push constants shared by every calcium_*.comp kernel (compute/calcium.c push_block).
layout(push_constant) uniform Push {
	uint n;         // voxels of this dispatch
	uint n_groups;  // workgroups covering them (the grid may hold more)
	uint nx, ny;    // slice size
	uint gbase;     // global index of the chunk's first voxel
	uint hu_bias;   // element of the HU binding holding the chunk's first voxel
	uint roi_bias;  // byte of the ROI binding holding the chunk's first voxel
	uint lab_bias;  // element of the label binding holding the chunk's first voxel
	uint comp_base; // global id of the chunk's first component
	uint n_min;     // minimum pixels of a kept component
	float thr;      // smallest float >= the threshold
} pc;

uint at(uint v)
{
	return v - 1u - pc.gbase + pc.lab_bias;
}

uint find(uint v)
{
	uint p = lab[at(v)];
	while (p != v) {
		v = p;
		p = lab[at(v)];
	}
	return v;
}

void unite(uint a, uint b)
{
	for (;;) {
		a = find(a);
		b = find(b);
		if (a == b)
			return;
		if (a > b) {
			uint t = a;
			a = b;
			b = t;
		}
		// b is (was) a root: link it under a. If another thread linked it first, old is its
		// new parent and a must still be united with it.
		uint old = atomicMin(lab[at(b)], a);
		if (old == b)
			return;
		b = old;
	}
}

void main()
{
	uint g = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
	uint i = g * 256u + gl_LocalInvocationID.x;
	if (g >= pc.n_groups || i >= pc.n)
		return;
	uint e = i + pc.lab_bias;
	uint v = lab[e];
	if (v == 0u)
		return;
	uint x = i % pc.nx;
	uint y = (i / pc.nx) % pc.ny;
	// Labels only ever decrease and never reach 0, so "!= 0" is a stable candidate test.
	if (x > 0u) {
		uint w = lab[e - 1u];
		if (w != 0u)
			unite(v, w);
	}
	if (y > 0u) {
		uint up = e - pc.nx;
		uint w = lab[up];
		if (w != 0u)
			unite(v, w);
		if (CONN8 != 0u) {
			if (x > 0u) {
				w = lab[up - 1u];
				if (w != 0u)
					unite(v, w);
			}
			if (x + 1u < pc.nx) {
				w = lab[up + 1u];
				if (w != 0u)
					unite(v, w);
			}
		}
	}
}
