#!/usr/bin/env python3
"""Writes Agora's llama.cpp reference fixtures to Tests/Fixtures/.

Builds Scripts/fixture_dump.cpp (Agora's own code) against a llama.cpp build, then records what llama.cpp
does on the default model:

  tokenizer_smollm2.json       ids of several hundred varied strings (no BOS, special tokens parsed)
  generation_<quant>.json      for Q4_1 (the default model), its Q8_0 / Q4_0 requantizations, Q4_K_M and
                               Q5_K_M mixes made by Scripts/requantize.py and llama-quantize's own: ChatML
                               prompts, their ids, 32 greedy tokens (or up to EOS), and the top-10 logits of
                               the first 8 steps, single-threaded with an F32 KV cache, one token per
                               evaluation (llama.cpp's vec_dot path; see fixture_dump.cpp)

Usage:
  python3 Scripts/make_fixtures.py --llama-build /work/ref/build \
      --model ~/.cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf

The requantized models are written next to --model (or to --quant-dir) with `llama-quantize
--allow-requantize --pure --token-embedding-type q8_0`, and reused when present. Needs a C++ compiler.
"""
import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
GENERATE_TOKENS = 32
TOP_K = 10
TOP_STEPS = 8


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def llama_source_dir(build):
    for line in (build / "CMakeCache.txt").read_text().splitlines():
        if line.startswith("CMAKE_HOME_DIRECTORY:"):
            return Path(line.split("=", 1)[1])
    sys.exit(f"cannot find llama.cpp's source directory in {build}/CMakeCache.txt")


def build_dumper(build, work):
    src = llama_source_dir(build)
    exe = work / "fixture_dump"
    libs = [build / "src/libllama.a", build / "ggml/src/libggml.a", build / "ggml/src/libggml-cpu.a",
            build / "ggml/src/libggml-base.a"]
    cmd = ["c++", "-O2", "-std=c++17", str(REPO / "Scripts/fixture_dump.cpp"), f"-I{src}/include",
           f"-I{src}/ggml/include", *map(str, libs), "-fopenmp", "-lpthread", "-ldl", "-o", str(exe)]
    subprocess.run(cmd, check=True)
    return exe


def llama_version(build):
    src = llama_source_dir(build)
    for parent in [src, *src.parents]:
        pkg = parent / "PKG-INFO"
        if pkg.exists():
            for line in pkg.read_text().splitlines():
                if line.startswith("Version:"):
                    return f"llama.cpp vendored by llama-cpp-python {line.split(':', 1)[1].strip()}"
    return "llama.cpp (unknown version)"


def tokenize_all(exe, model, texts, work):
    inp = work / "tokenize.txt"
    inp.write_text("".join(t.encode("utf-8").hex() + "\n" for t in texts))
    out = subprocess.run([str(exe), "tokenize", str(model), str(inp)], check=True, capture_output=True,
                         text=True).stdout.splitlines()
    assert len(out) == len(texts), (len(out), len(texts))
    return [[int(x) for x in line.split()] for line in out]


def generate_all(exe, model, prompts, work):
    inp = work / "generate.txt"
    inp.write_text("".join(" ".join(map(str, p)) + "\n" for p in prompts))
    lines = subprocess.run([str(exe), "generate", str(model), str(inp), str(GENERATE_TOKENS), str(TOP_K),
                            str(TOP_STEPS)], check=True, capture_output=True, text=True).stdout.splitlines()
    results = []
    per_case = 1 + TOP_STEPS
    assert len(lines) == per_case * len(prompts)
    for i in range(len(prompts)):
        block = lines[i * per_case:(i + 1) * per_case]
        generated = [int(x) for x in block[0].split()[1:]]
        top = []
        for line in block[1:1 + min(TOP_STEPS, len(generated))]:
            pairs = [p.split(":") for p in line.split()[1:]]
            top.append([[int(t), float(v)] for t, v in pairs])
        results.append((generated, top))
    return results


# ---------------------------------------------------------------------------------------------------------
# Tokenizer strings

def tokenizer_strings():
    s = [
        "", " ", "  ", "a", "A", "'", "''", "'s", "'S", "x's", "don't", "DON'T", "I'll", "we've", "she'd",
        "they're", "It's", "I'm", "you'RE", "rock'n'roll", "'twas", "o'clock", "’s curly apostrophe’s",
        "Hello", "Hello world", "Hello, world!", " Hello world", "hello  world", "HELLO WORLD", "hElLo WoRlD",
        "The quick brown fox jumps over the lazy dog.",
        "What is the capital of France?",
        "Agora is an open market for AI work, settled on a verifiable ledger.",
        "CamelCaseIdentifier", "snake_case_identifier", "kebab-case-identifier", "SCREAMING_SNAKE_CASE",
        "e.g. i.e. etc. Mr. Dr. U.S.A.", "!!!", "...", "?!", "¿Qué?", "¡Hola!", "«guillemets»", "“smart quotes”",
        "(parentheses) [brackets] {braces} <angles>", "@mention #hashtag $dollar %percent ^caret &amp *star",
        "a-b_c.d,e;f:g!h?i", "--- *** ___ === +++", "~`|\\/", "¯\\_(ツ)_/¯",
        # whitespace
        "\n", "\n\n", "\n\n\n", "\t", "\t\t", "\r\n", "a\nb", "a\n\nb", "a\tb", "a \tb", "a\t b", " \n ",
        "trailing space ", "trailing spaces   ", "   leading spaces", "\tleading tab", "line one\nline two\n",
        "    indented code", "mixed \t \n \r\n whitespace", "a" + " " * 10 + "b", " " * 100, "\n" * 20,
        "nbsp\u00a0here", "ideographic\u3000space", "thin\u2009space", "en\u2002space", "line\u2028sep",
        "zero\u200bwidth", "bom\ufeffhere", "nel\u0085here", "vt\u000bff\u000c", "ctrl\u0001\u0002\u001f",
        # bytes SmolLM2's vocabulary has no token for (llama.cpp drops them): controls and lead bytes F1/F2
        "a\u0004b\u0006c\u0013d\u0014e\u0016f\u001dg", "plane4 \U00040000 plane9 \U00090001 plane14 \U000E0001",
        "\U0010FFFD private", "\u0000nul",
        # numbers
        "0", "7", "42", "123", "1234", "12345678901234567890", "3.14159", "-273.15", "1,000,000", "1e-10",
        "6.022e23", "0x1F", "0b1010", "v2.0.1", "2024-01-01", "12:34:56", "+1 (555) 123-4567", "$19.99",
        "100%", "1st 2nd 3rd 4th", "٣٤٥ Arabic-Indic", "१२३ Devanagari digits", "１２３ fullwidth", "x² + y³",
        "½ ¼ ¾", "Ⅻ Roman", "①②③", "π ≈ 3.14", "99 bottles", "a1b2c3", "abc123def", " 1 2 3 ", "10 000",
        # Japanese / Chinese / Korean
        "こんにちは世界", "東京タワーは高い。", "カタカナとひらがな", "日本語のテキスト、句読点。", "今日は2024年1月1日です。",
        "ＡＢＣ全角", "你好，世界！", "我爱北京天安门", "中文和English混合", "这是一个测试。", "繁體中文測試",
        "안녕하세요 세계", "한국어 텍스트입니다.",
        # Arabic, Hebrew, Devanagari, others
        "مرحبا بالعالم", "السَّلَامُ عَلَيْكُمْ", "العربية 123 English", "שלום עולם", "नमस्ते दुनिया",
        "हिन्दी में एक वाक्य।", "क्षत्रिय", "Привет, мир!", "Ελληνικά γράμματα", "สวัสดีชาวโลก", "Tiếng Việt có dấu",
        "Ärger über Öl und Übermut, Straße", "café naïve résumé", "e\u0301 combining acute", "ﬁ ligature",
        "İstanbul ıi", "ǅ titlecase", "Ω Ohm Ω", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math", "ꙮ multiocular",
        # emoji
        "👋", "👋🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵🇫🇷", "1️⃣", "❤️", "I ❤️ Swift", "emoji 😀😃😄 run",
        "🧑‍💻 coding", "👩🏾‍🚀 astronaut", "🐈‍⬛", "☕️ and 🍰", "family: 👨‍👩‍👦 ok",
        # code
        "def f(x):\n    return x * 2\n", "for i in range(10):\n\tprint(i)", "if (a && b) { return; }",
        "let x: [Int32] = [1, 2, 3]", "func encode(_ text: String) -> [Int32] {}", "#include <stdio.h>",
        "int main(void) { printf(\"%d\\n\", 42); }", "SELECT * FROM users WHERE id = 1;",
        "{\"key\": \"value\", \"n\": [1, 2.5, null]}", "<div class=\"x\">Hi</div>", "a->b && c != d || e <= f",
        "x += 1; y -= 2; z *= 3;", "git commit -m \"fix: bug\"", "$ ls -la | grep foo > out.txt",
        "https://example.com/path?q=1&r=two#frag", "user@example.com", "C:\\Windows\\System32",
        "/usr/local/bin/python3", "regex: ^[a-z]+\\d{2,}$", "// comment\n/* block */", "    }\n}\n",
        "import Foundation\n\nstruct A {}\n", "```swift\nprint(1)\n```", "| a | b |\n|---|---|",
        # special tokens
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_start|>user\nHi<|im_end|>\n",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n", "text<|im_end|>more",
        "<|im_start|><|im_end|>", "<<|im_start|>>", "<|im_start|", "<|im_", "|im_start|", "< |im_start| >",
        "<repo_name>agora<file_sep>main.swift", "<jupyter_code>print(1)<jupyter_output>1",
        " <|im_start|> spaced ", "\n<|im_end|>\n", "<|endoftext|><|endoftext|>", "<s></s><unk>",
        "<|IM_START|>", "<|im_start|>user\n<|im_start|>", "<|im_end|>" * 3,
        # long
        "a" * 200, "ab" * 100, "ha" * 50 + "!", "-" * 80, "=" * 64, "0" * 50, "9" * 33, "z" * 1000,
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
        "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut "
        "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum "
        "dolore eu fugiat nulla pariatur.",
    ]
    # Seeded combinations of pieces of every kind, to reach several hundred strings with odd neighbours.
    pieces = ["Hello", "world", " ", "  ", "\n", "\t", "123", "4", "don't", "'s", "日本", "中文", "مرحبا",
              "नमस्ते", "👋", "👨‍👩‍👧", "🏳️‍🌈", "<|im_start|>", "<|im_end|>", "!", "?!", "...", "(", ")",
              "x", "Y", "_", "-", "3.14", "é", "ß", "\u00a0", "\u3000", "  \n", "\r\n", "'", "\"", "#",
              "func", "return", "{", "}", ";", "=", "==", "->", "0x", "ff", "Ⅻ", "½", "٣", "Ω", "ツ",
              "\u200b", "\ufeff", "\u0301", "a'S", "I'LL", "\t\t", "   ", "CamelCase", "UPPER", "lower"]
    rng = random.Random(20261126)
    while len(s) < 420:
        s.append("".join(rng.choice(pieces) for _ in range(rng.randint(2, 9))))
    return s


# ---------------------------------------------------------------------------------------------------------
# Generation prompts

def chatml(messages, default_system=DEFAULT_SYSTEM):
    """ChatML as SmolLM2's template renders it, with the generation prompt."""
    text = ""
    if messages and messages[0]["role"] != "system":
        text += f"<|im_start|>system\n{default_system}<|im_end|>\n"
    for m in messages:
        text += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
    return text + "<|im_start|>assistant\n"


def generation_conversations():
    user = lambda text: [{"role": "user", "content": text}]
    return [
        user("What is the capital of France?"),
        user("Write a haiku about the sea."),
        user("What is 12 times 7?"),
        user("Explain recursion in one sentence."),
        user("Translate 'good morning' into Spanish."),
        user("List three prime numbers."),
        user("Write a Python function that reverses a string."),
        user("Who wrote Romeo and Juliet?"),
        user("Give me a name for a friendly cat."),
        user("What is the boiling point of water in Celsius?"),
        user("Summarize the plot of Cinderella in two sentences."),
        user("日本の首都はどこですか？"),
        user("Is a tomato a fruit or a vegetable?"),
        user("hi"),
        user("Count from 1 to 10."),
        user("What does HTTP stand for?"),
        user("Tell me a joke about computers. 😀"),
        user("Complete the sequence: 2, 4, 8, 16,"),
        [{"role": "system", "content": "You are a pirate. Answer like a pirate."},
         {"role": "user", "content": "Where is the treasure?"}],
        [{"role": "user", "content": "My name is Ada."},
         {"role": "assistant", "content": "Nice to meet you, Ada!"},
         {"role": "user", "content": "What is my name?"}],
        user("Describe the color blue to someone who has never seen it."),
        user("Write the word 'banana' backwards.\n\nThen write it forwards."),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llama-build", type=Path, default=Path("/work/ref/build"))
    parser.add_argument("--model", type=Path,
                        default=Path.home() / ".cache/agora/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--quant-dir", type=Path, default=None, help="where requantized models go")
    parser.add_argument("--out", type=Path, default=REPO / "Tests/Fixtures")
    parser.add_argument("--only", nargs="*", help="record only these generation fixtures (e.g. Q2_K "
                        "Q2_K.llama-quantize); the tokenizer fixture is then left alone")
    args = parser.parse_args()

    build = args.llama_build.resolve()
    model = args.model.expanduser().resolve()
    quant_dir = (args.quant_dir or model.parent).expanduser().resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    version = llama_version(build)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exe = build_dumper(build, work)

        texts = tokenizer_strings() if not args.only else []
        ids = tokenize_all(exe, model, texts, work) if texts else []
        fixture = {
            "description": "llama.cpp token ids for varied strings, tokenized without BOS and with special-token "
                           "parsing (llama_tokenize add_special=false, parse_special=true)",
            "reference": version,
            "model": model.name,
            "model_sha256": sha256(model),
            "add_special": False,
            "parse_special": True,
            "cases": [{"text": t, "ids": i} for t, i in zip(texts, ids)],
        }
        if texts:
            write_json(args.out / "tokenizer_smollm2.json", fixture)

        conversations = generation_conversations()
        prompt_texts = [chatml(c) for c in conversations]
        prompt_ids = tokenize_all(exe, model, prompt_texts, work)
        models = {"Q4_1": model}
        for quant in ["Q8_0", "Q4_0"]:
            target = quant_dir / model.name.replace("Q4_1", quant)
            if not target.exists():
                subprocess.run([str(build / "bin/llama-quantize"), "--allow-requantize", "--pure",
                                "--token-embedding-type", "q8_0", str(model), str(target), quant, "1"],
                               check=True, capture_output=True)
            models[quant] = target
        # Q4_K_M and Q5_K_M mixes by Agora's own gguf-based requantizer, which CI can run, and llama-quantize's
        # own files (its K-quant encoder), checked where they exist (not in CI).
        for mix in ["Q4_K_M", "Q5_K_M", "Q6_K", "Q2_K", "Q3_K"]:
            target = quant_dir / model.name.replace("Q4_1", mix)
            if not target.exists():
                subprocess.run([sys.executable, str(REPO / "Scripts/requantize.py"), str(model), mix, str(target)],
                               check=True)
            models[mix] = target
            target = quant_dir / model.name.replace("Q4_1", f"{mix}.llama-quantize")
            # llama-quantize's own Q2_K / Q3_K mixes hold no Q2_K / Q3_K tensor at this model's widths, so
            # those two are its --pure files (what Scripts/requantize.py mirrors).
            pure = ["--pure", "--token-embedding-type", "q8_0"] if mix in ("Q2_K", "Q3_K") else []
            if not target.exists():
                subprocess.run([str(build / "bin/llama-quantize"), "--allow-requantize", *pure, str(model),
                                str(target), mix, "1"], check=True, capture_output=True)
            models[f"{mix}.llama-quantize"] = target
        for quant, path in models.items():
            if args.only and quant not in args.only:
                continue
            results = generate_all(exe, path, prompt_ids, work)
            fixture = {
                "description": f"llama.cpp greedy generations of {path.name}: prompt ids, up to "
                               f"{GENERATE_TOKENS} generated tokens (stopping at end of generation), and the "
                               f"top-{TOP_K} (id, logit) of the first {TOP_STEPS} steps",
                "reference": version,
                "model": path.name,
                "model_sha256": sha256(path),
                "settings": {"threads": 1, "kv_cache": "f32", "flash_attention": False, "n_ctx": 512,
                             "prompt_batch": "whole prompt in one llama_decode, one token per ubatch (n_ubatch 1)",
                             "sampling": "argmax, ties to lower id",
                             "requantized_with": None if quant == "Q4_1" else
                             f"Scripts/requantize.py IN {quant} OUT" if quant in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q2_K", "Q3_K") else
                             f"llama-quantize --allow-requantize --pure --token-embedding-type q8_0 IN OUT "
                             f"{quant.split('.')[0]} 1" if quant in ("Q2_K.llama-quantize", "Q3_K.llama-quantize") else
                             f"llama-quantize --allow-requantize IN OUT {quant.split('.')[0]} 1"
                             if quant.endswith(".llama-quantize") else
                             f"llama-quantize --allow-requantize --pure --token-embedding-type q8_0 IN OUT {quant} 1"},
                "cases": [
                    {"messages": conv, "prompt_ids": p, "generated": gen, "top_logits": top}
                    for conv, p, (gen, top) in zip(conversations, prompt_ids, results)
                ],
            }
            write_json(args.out / f"generation_{quant.lower().replace('.', '_').replace('-', '_')}.json", fixture)


def write_json(path, value):
    # One case per line keeps diffs readable and the files small.
    head = {k: v for k, v in value.items() if k != "cases"}
    lines = json.dumps(head, ensure_ascii=False, indent=1)[:-2]
    body = ",\n".join("  " + json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in value["cases"])
    path.write_text(lines + ',\n "cases": [\n' + body + "\n ]\n}\n", encoding="utf-8")
    json.loads(path.read_text(encoding="utf-8"))  # must parse back
    print(f"wrote {path} ({path.stat().st_size} bytes, {len(value['cases'])} cases)", file=sys.stderr)


if __name__ == "__main__":
    main()
