#version 450
// Connected components step 2 (compute/segops.c): union-find with atomicMin (Playne &
// Hawick, IEEE TPDS 2018). Each foreground voxel unites with its foreground neighbours of
// smaller index (the half-neighbourhoods of compute/segops_ref.c). A root only ever links
// under a smaller index, so every parent is smaller than its child and the final root of a
// component is its smallest index: the canonical label the C reference produces too.
// Reads of parents may be stale; every value ever stored is a valid ancestor, and the
// atomics decide which link wins, so the result does not depend on timing.
layout(local_size_x = 256) in;

layout(std430, binding = 0) coherent buffer Labels { uint labels[]; };

layout(push_constant) uniform Push {
	uint n;
	uint nx;
	uint ny;
	uint nz;
	uint conn; // 4, 8 (per slice), 6, 26
} pc;

uint find_root(uint a)
{
	uint p = labels[a];
	while (p != a) {
		a = p;
		p = labels[a];
	}
	return a;
}

void unite(uint a, uint b)
{
	for (;;) {
		a = find_root(a);
		b = find_root(b);
		if (a < b) {
			uint old = atomicMin(labels[b], a);
			if (old == b)
				return;
			b = old;
		} else if (b < a) {
			uint old = atomicMin(labels[a], b);
			if (old == a)
				return;
			a = old;
		} else {
			return;
		}
	}
}

void try_unite(uint i, int x, int y, int z)
{
	if (x < 0 || x >= int(pc.nx) || y < 0 || y >= int(pc.ny) || z < 0)
		return;
	uint j = uint(x) + pc.nx * (uint(y) + pc.ny * uint(z));
	if (labels[j] != 0xFFFFFFFFu)
		unite(i, j);
}

void main()
{
	uint i = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (i >= pc.n || labels[i] == 0xFFFFFFFFu)
		return;
	int x = int(i % pc.nx);
	int y = int((i / pc.nx) % pc.ny);
	int z = int(i / (pc.nx * pc.ny));
	try_unite(i, x - 1, y, z);
	try_unite(i, x, y - 1, z);
	if (pc.conn == 8u || pc.conn == 26u) {
		try_unite(i, x - 1, y - 1, z);
		try_unite(i, x + 1, y - 1, z);
	}
	if (pc.conn == 6u)
		try_unite(i, x, y, z - 1);
	if (pc.conn == 26u) {
		for (int dy = -1; dy <= 1; dy++) {
			for (int dx = -1; dx <= 1; dx++)
				try_unite(i, x + dx, y + dy, z - 1);
		}
	}
}
