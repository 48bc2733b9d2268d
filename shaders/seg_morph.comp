#version 450
// Morphology step 2 (compute/segops.c): a voxel is hit when some run (dy, dz, w) of the
// structuring element has a source voxel within w along the row at (y + dy, z + dz), read
// from the row distances of seg_rowdist. out = hit (dilation) or !hit (erosion, whose
// sources are the off voxels). uint8 packed 4 per uint, one thread per word.
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Dist { uint dist[]; };
layout(std430, binding = 1) readonly buffer Runs { ivec4 runs[]; }; // dy, dz, w, pad
layout(std430, binding = 2) writeonly buffer Out { uint outm[]; };

layout(push_constant) uniform Push {
	uint n;
	uint n_words;
	uint nx;
	uint ny;
	uint nz;
	uint n_runs;
	uint invert_out;
} pc;

void main()
{
	uint w = (gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x) * 256u + gl_LocalInvocationID.x;
	if (w >= pc.n_words)
		return;
	uint word = 0u;
	for (uint c = 0u; c < 4u; c++) {
		uint i = w * 4u + c;
		if (i >= pc.n)
			break;
		int x = int(i % pc.nx);
		int y = int((i / pc.nx) % pc.ny);
		int z = int(i / (pc.nx * pc.ny));
		bool hit = false;
		for (uint k = 0u; k < pc.n_runs && !hit; k++) {
			ivec4 r = runs[k];
			int yy = y + r.x, zz = z + r.y;
			if (yy < 0 || yy >= int(pc.ny) || zz < 0 || zz >= int(pc.nz))
				continue;
			uint j = uint(x) + pc.nx * (uint(yy) + pc.ny * uint(zz));
			hit = int((dist[j >> 2] >> (8u * (j & 3u))) & 0xFFu) <= r.z;
		}
		if (hit != (pc.invert_out != 0u))
			word |= 1u << (8u * c);
	}
	outm[w] = word;
}
