// The reference embeddings for Tests/Fixtures/embeddings_minilm.json: llama.cpp's own computation, one
// sentence per batch, exactly as `llama-embedding -p SENTENCE -fa off --embd-normalize 2` computes it, but
// printing every float's bits (llama-embedding prints seven decimals). Built against the static libllama of
// the llama-cpp-python 0.3.36 sdist by Scripts/make_embedding_fixture.py, which also checks the printed
// decimals of llama-embedding itself against these bits. Test tooling, not part of the product.
//
// Usage: embedding_reference MODEL.gguf < sentences.txt   (one sentence a line; JSON lines out)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"

static void quiet_log(enum ggml_log_level level, const char *text, void *user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.gguf < sentences\n", argv[0]);
        return 2;
    }
    llama_log_set(quiet_log, NULL);
    llama_backend_init();
    struct llama_model *model = llama_model_load_from_file(argv[1], llama_model_default_params());
    if (!model) return 1;
    struct llama_context_params cp = llama_context_default_params();
    cp.embeddings = true;
    cp.n_ctx = 512;
    cp.n_batch = 512;
    cp.n_ubatch = 512;  // a non-causal model needs the whole sentence in one micro-batch
    cp.n_seq_max = 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.n_threads = cp.n_threads_batch = 2;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) return 1;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    const int n_embd = llama_model_n_embd(model);
    char line[8192];
    llama_token tokens[512];
    float *out = malloc(sizeof(float) * (size_t)n_embd);
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0) continue;
        const int n = llama_tokenize(vocab, line, (int)len, tokens, 512, true, true);
        if (n <= 0) return 1;
        struct llama_batch batch = llama_batch_init(n, 0, 1);
        for (int i = 0; i < n; i++) {
            batch.token[i] = tokens[i];
            batch.pos[i] = i;
            batch.n_seq_id[i] = 1;
            batch.seq_id[i][0] = 0;
            batch.logits[i] = 1;
        }
        batch.n_tokens = n;
        llama_memory_clear(llama_get_memory(ctx), true);
        if (llama_decode(ctx, batch) < 0) return 1;
        const float *embd = llama_get_embeddings_seq(ctx, 0);
        if (!embd) return 1;
        // common_embd_normalize(..., 2): the squares summed in double, one float factor
        double sum = 0.0;
        for (int i = 0; i < n_embd; i++) sum += embd[i] * embd[i];
        sum = sqrt(sum);
        const float norm = sum > 0.0 ? 1.0 / sum : 0.0f;
        for (int i = 0; i < n_embd; i++) out[i] = embd[i] * norm;
        printf("{\"tokens\": %d, \"bits\": \"", n);
        for (int i = 0; i < n_embd; i++) {
            unsigned int u;
            memcpy(&u, &out[i], 4);
            printf("%08x", u);
        }
        printf("\", \"raw\": \"");
        for (int i = 0; i < n_embd; i++) {
            unsigned int u;
            memcpy(&u, &embd[i], 4);
            printf("%08x", u);
        }
        printf("\"}\n");
        llama_batch_free(batch);
    }
    free(out);
    llama_free(ctx);
    llama_model_free(model);
    llama_backend_free();
    return 0;
}
