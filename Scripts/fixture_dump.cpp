// Agora's fixture dumper: asks a llama.cpp build (linked statically) for token ids, greedy generations and
// logits, so Agora's tokenizer and engine can be checked against llama.cpp. Our own code; built and run by
// Scripts/make_fixtures.py. Input and output are line-based so the Python side does all the JSON.
//
//   fixture_dump tokenize MODEL IN     IN: one hex-encoded UTF-8 string per line
//                                      out: the ids of each line (no BOS, special tokens parsed), space-separated
//   fixture_dump generate MODEL IN N TOPK TOPSTEPS
//                                      IN: the prompt ids of each case, space-separated, one case per line
//                                      out: per case, "gen ids..." then TOPSTEPS lines "top id:logit ..."
#include "llama.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

static void quiet(enum ggml_log_level, const char *, void *) {}

static std::string unhex(const std::string & hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back((char) std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

static llama_model * load(const char * path) {
    llama_model_params params = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(path, params);
    if (!model) { fprintf(stderr, "cannot load %s\n", path); exit(1); }
    return model;
}

static int tokenize(const char * model_path, const char * input) {
    llama_model * model = load(model_path);
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::ifstream in(input);
    std::string line;
    while (std::getline(in, line)) {
        std::string text = unhex(line);
        std::vector<llama_token> ids(text.size() + 16);
        int n = llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data(), (int32_t) ids.size(),
                               /*add_special*/ false, /*parse_special*/ true);
        if (n < 0) { fprintf(stderr, "tokenize failed\n"); return 1; }
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        printf("\n");
    }
    llama_model_free(model);
    return 0;
}

static int generate(const char * model_path, const char * input, int n_predict, int top_k, int top_steps) {
    llama_model * model = load(model_path);
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int n_vocab = llama_vocab_n_tokens(vocab);

    llama_context_params cparams = llama_context_default_params();
    cparams.n_ctx = 512;
    cparams.n_batch = 512;
    // One token per graph evaluation. llama.cpp's own results depend on the batch shape: from two tokens
    // up it routes Q8_0/Q4_0/F32 products through llamafile's tinyBLAS, whose float order differs from
    // the vec_dot kernels it uses for one token. Agora's results never depend on batching, and they equal
    // llama.cpp's one-token path (its plain vec_dot order), so that is the path recorded here.
    cparams.n_ubatch = 1;
    cparams.n_seq_max = 1;
    cparams.n_threads = 1;        // single-threaded: one fixed reduction order
    cparams.n_threads_batch = 1;
    cparams.type_k = GGML_TYPE_F32;  // full-precision KV cache (the default F16 cache rounds K and V)
    cparams.type_v = GGML_TYPE_F32;
    cparams.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cparams.no_perf = true;
    llama_context * ctx = llama_init_from_model(model, cparams);
    if (!ctx) { fprintf(stderr, "cannot create context\n"); return 1; }

    std::ifstream in(input);
    std::string line;
    while (std::getline(in, line)) {
        std::vector<llama_token> prompt;
        std::istringstream ss(line);
        int id;
        while (ss >> id) prompt.push_back(id);
        llama_memory_clear(llama_get_memory(ctx), true);

        std::vector<llama_token> generated;
        std::vector<std::string> tops;
        llama_batch batch = llama_batch_get_one(prompt.data(), (int32_t) prompt.size());
        llama_token next = 0;
        for (int step = 0; step < n_predict; step++) {
            if (llama_decode(ctx, batch) != 0) { fprintf(stderr, "decode failed\n"); return 1; }
            const float * logits = llama_get_logits_ith(ctx, -1);
            std::vector<int> order(n_vocab);
            for (int i = 0; i < n_vocab; i++) order[i] = i;
            std::partial_sort(order.begin(), order.begin() + top_k, order.end(), [&](int a, int b) {
                return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
            });
            if (step < top_steps) {
                std::string top = "top";
                char buf[64];
                for (int k = 0; k < top_k; k++) {
                    snprintf(buf, sizeof buf, " %d:%.9g", order[k], logits[order[k]]);
                    top += buf;
                }
                tops.push_back(top);
            }
            next = order[0];  // greedy; ties go to the lower id
            generated.push_back(next);
            if (llama_vocab_is_eog(vocab, next)) break;
            batch = llama_batch_get_one(&next, 1);
        }
        printf("gen");
        for (llama_token t : generated) printf(" %d", t);
        printf("\n");
        for (int s = 0; s < top_steps; s++) printf("%s\n", s < (int) tops.size() ? tops[s].c_str() : "top");
        fflush(stdout);
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}

int main(int argc, char ** argv) {
    llama_log_set(quiet, nullptr);
    llama_backend_init();
    if (argc >= 4 && strcmp(argv[1], "tokenize") == 0) return tokenize(argv[2], argv[3]);
    if (argc >= 7 && strcmp(argv[1], "generate") == 0)
        return generate(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: fixture_dump tokenize MODEL IN | generate MODEL IN N TOPK TOPSTEPS\n");
    return 2;
}
