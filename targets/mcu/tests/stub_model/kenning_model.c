#include <string.h>

#include "kenning_model.h"

const char kenning_model_name[] = "stub";
/* SHA-256 of the 4 bytes "stub" */
const uint8_t kenning_model_sha256[32] = {
    0x72, 0x5c, 0x54, 0x6b, 0x99, 0x0d, 0xd1, 0xb4, 0x1f, 0x3d, 0x57, 0x91, 0xb3, 0x7c, 0x3c, 0x0e,
    0xdc, 0xb1, 0xf0, 0x8c, 0xf1, 0x50, 0xbd, 0xae, 0x32, 0xa7, 0x3d, 0xfd, 0x16, 0x6e, 0x02, 0xd7,
};
const uint32_t kenning_model_input_bytes = KENNING_MODEL_INPUT_BYTES;
const uint32_t kenning_model_output_bytes = KENNING_MODEL_OUTPUT_BYTES;

void kenning_model_run(const uint8_t *input, uint8_t *output)
{
    float in[16], out[4];
    memcpy(in, input, sizeof in);
    for (int i = 0; i < 4; i++) {
        out[i] = 1.0f;
        for (int j = 0; j < 4; j++) out[i] += 2.0f * in[4 * i + j];
    }
    memcpy(output, out, sizeof out);
}
