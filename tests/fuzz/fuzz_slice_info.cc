/* libFuzzer target: ms_dicom_read_slice (series assembly's header reader, DCMTK) on arbitrary
 * bytes, as a corrupt or hostile upload would reach it.
 *
 * DCMTK itself is not instrumented for coverage, so the fuzzer mostly mutates the seed headers
 * blindly; what it checks is that no input crashes, hangs or exhausts memory, that only MS_OK or
 * MS_ERR_DICOM come back with a NUL-terminated message, and that the fixed-size strings of an
 * accepted header are NUL-terminated with at least one frame. */
#include <cstring>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/oflog/oflog.h>

#include "dicom/slice_info.h"
#include "tests/fuzz/fuzz.h"

static bool terminated(const char *s, size_t n)
{
	return memchr(s, '\0', n) != nullptr;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	ms_dicom_slice s;
	char err[256];

	if (!quiet) {
		/* DCMTK warns about every malformed element; that is the point of the input. */
		OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
		fuzz_quiet();
		quiet = true;
	}
	memset(err, 'x', sizeof(err));
	memset(&s, 0x5a, sizeof(s));
	ms_status rc = ms_dicom_read_slice(data, size, &s, err, sizeof(err));
	if (rc != MS_OK) {
		FUZZ_ASSERT(rc == MS_ERR_DICOM);
		FUZZ_ASSERT(terminated(err, sizeof(err)));
		return 0;
	}
	FUZZ_ASSERT(s.number_of_frames >= 1 && s.samples_per_pixel <= 65535);
	FUZZ_ASSERT(terminated(s.modality, sizeof(s.modality)));
	FUZZ_ASSERT(terminated(s.photometric, sizeof(s.photometric)));
	FUZZ_ASSERT(terminated(s.sop_instance_uid, sizeof(s.sop_instance_uid)));
	FUZZ_ASSERT(terminated(s.sop_class_uid, sizeof(s.sop_class_uid)));
	FUZZ_ASSERT(terminated(s.series_instance_uid, sizeof(s.series_instance_uid)));
	FUZZ_ASSERT(terminated(s.study_instance_uid, sizeof(s.study_instance_uid)));
	FUZZ_ASSERT(s.geom.label == nullptr);
	return 0;
}
