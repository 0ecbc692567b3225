"""The PyTorch peer for `npm run bench:sae`: one top-k SAE training step written the way PyTorch users
write it (dense encoder, top-k, dense decoder, AuxK, autograd, decoder-gradient projection, clipping, Adam,
renormalisation), on CPU with 2 threads. Prints one JSON line: {"stepsPerSecond", "encoderGemmSeconds", ...}.

Usage: bench_sae_torch.py --d 1536 --n 8192 --k 32 --batch 1024 --steps 5 --threads 2
"""
import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    for name, default in [("d", 1536), ("n", 8192), ("k", 32), ("batch", 1024), ("steps", 5), ("threads", 2)]:
        ap.add_argument(f"--{name}", type=int, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, n, k, B = a.d, a.n, a.k, a.batch
    k_aux = min(2 * k, n)
    x = torch.nn.functional.normalize(torch.randn(B, d), dim=1)
    w_dec = torch.nn.functional.normalize(torch.randn(n, d), dim=1)
    params = {
        "w_enc": torch.nn.Parameter(w_dec.clone()),
        "b_lat": torch.nn.Parameter(torch.zeros(n)),
        "w_dec": torch.nn.Parameter(w_dec.clone()),
        "b_pre": torch.nn.Parameter(x.median(dim=0).values.clone()),
    }
    opt = torch.optim.Adam(params.values(), lr=1e-4)
    dead = torch.zeros(n, dtype=torch.bool)
    dead[: n // 10] = True  # AuxK active, as early in training

    def nmse(r, t):
        return ((r - t) ** 2).mean() / ((t.mean(0, keepdim=True) - t) ** 2).mean()

    def step():
        p = params
        h = (x - p["b_pre"]) @ p["w_enc"].T + p["b_lat"]
        vals, idx = h.topk(k, dim=1)
        z = torch.zeros_like(h).scatter(1, idx, torch.relu(vals))
        x_hat = z @ p["w_dec"] + p["b_pre"]
        loss = nmse(x_hat, x)
        hd = torch.where(dead, h, torch.full_like(h, -float("inf")))
        va, ia = hd.topk(k_aux, dim=1)
        za = torch.zeros_like(h).scatter(1, ia, torch.relu(va))
        loss = loss + nmse(za @ p["w_dec"], (x - x_hat).detach()) / 32
        opt.zero_grad(set_to_none=True)
        loss.backward()
        with torch.no_grad():
            g = p["w_dec"].grad
            g -= (g * p["w_dec"]).sum(1, keepdim=True) * p["w_dec"]
        torch.nn.utils.clip_grad_norm_(p.values(), 1.0)
        opt.step()
        with torch.no_grad():
            p["w_dec"] /= p["w_dec"].norm(dim=1, keepdim=True)

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    secs = (time.perf_counter() - t0) / a.steps
    w = params["w_enc"].detach()
    xc = x - params["b_pre"].detach()
    xc @ w.T
    t0 = time.perf_counter()
    for _ in range(3):
        xc @ w.T
    gemm = (time.perf_counter() - t0) / 3
    print(json.dumps({"engine": f"pytorch {torch.__version__} cpu ({a.threads} threads, dense)", "stepsPerSecond": 1 / secs,
                      "samplesPerSecond": B / secs, "stepSeconds": secs, "encoderGemmSeconds": gemm}))


if __name__ == "__main__":
    main()
