"""The trunks of torch_reference.py (symlab's `reference` preset) on CUDA, for bench/gpu.sh: training
and inference images/s at batch 64, 32x32x3, 100 classes, measured as `deno task bench` measures
tfjs (SGD momentum 0.9, forward + backward + update, median step after warm-up; inference = one
forward pass in eval mode). fp32 with TF32 off (tfjs' WebGPU kernels are plain fp32), then TF32 on
(PyTorch's default for convolutions) for reference.

Usage: python3 torch_cuda.py [steps] [device]  -> a Markdown table on stdout; exit 0 with a one-line
note when torch or CUDA is missing, so the GPU run goes on without it. device defaults to cuda;
`cpu` runs the same loop (to test this script on a machine without a GPU)."""
import os, sys, statistics, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

def main(steps=20, device="cuda", warmup=5, batch=64):
    try:
        import torch, torch.nn.functional as F
        import torch_reference as ref
    except ImportError as e:
        print(f"PyTorch skipped: {e}")
        return
    cuda = device == "cuda"
    if cuda and not torch.cuda.is_available():
        print(f"PyTorch skipped: torch {torch.__version__} sees no CUDA device")
        return
    dev = torch.device(device)
    where = (f"{torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}, cuDNN "
             f"{torch.backends.cudnn.version()}" if cuda else f"{device}, {torch.get_num_threads()} threads")
    print(f"PyTorch {torch.__version__} on {where}; batch {batch}, 32x32x3, 100 classes, "
          f"median of {steps} steps after {warmup} warm-up.\n")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    print("| model | precision | params | train img/s | inference img/s |")
    print("| --- | --- | --- | --- | --- |")

    def timed(fn):
        for _ in range(warmup):
            fn()
        sync()
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            fn()
            sync()  # the step is done when the GPU is
            times.append(time.perf_counter() - t0)
        return batch / statistics.median(times)

    for tf32 in (False, True):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for name, make in (("baseline", ref.baseline), ("symmetric", ref.symmetric)):
            torch.manual_seed(0)
            m = make().to(dev)
            opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
            x = torch.rand(batch, 3, 32, 32, device=dev)
            y = torch.randint(0, 100, (batch,), device=dev)

            def train_step():
                opt.zero_grad()
                F.cross_entropy(m(x), y).backward()
                opt.step()

            m.train()
            train = timed(train_step)
            m.eval()
            with torch.no_grad():
                infer = timed(lambda: m(x))
            params = sum(p.numel() for p in m.parameters())
            print(f"| {name} | {'tf32' if tf32 else 'fp32'} | {params:,} | {train:,.1f} | {infer:,.1f} |")

if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, sys.argv[2] if len(sys.argv) > 2 else "cuda")
