/* A stand-in model for testing the server without a generated one: 16 float32 in, 4 out
 * (each the sum of four inputs, times two, plus one). */
#ifndef KENNING_MODEL_H
#define KENNING_MODEL_H

#include <stdint.h>

#define KENNING_MODEL_INPUT_BYTES 64u
#define KENNING_MODEL_OUTPUT_BYTES 16u
#define KENNING_MODEL_FILE_BYTES 0u
#define KENNING_MODEL_GENERATOR "stub"

extern const char kenning_model_name[];
extern const uint8_t kenning_model_sha256[32];
extern const uint32_t kenning_model_input_bytes;
extern const uint32_t kenning_model_output_bytes;
void kenning_model_run(const uint8_t *input, uint8_t *output);

#endif
