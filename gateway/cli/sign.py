"""`gateway sign VIDEO_OR_IMAGES|train|record WORD`, `gateway eval sign`, `gateway bench sign`."""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

from gateway.cli.groups import CommandGroups
from gateway.cli.sign_frames import frames_from_files


def register(groups: CommandGroups) -> None:
    sign = groups.top.add_parser("sign", help="recognise signing in a video or images, or `train` the model")
    sign.add_argument(
        "inputs", nargs="+", help="MJPEG/video file, image files or a folder; or: train; or: record WORD"
    )
    sign.add_argument("--fps", type=float, default=15.0, help="frame rate of image sequences (and sampling)")
    sign.add_argument("--seed", type=int, default=7, help="training seed")
    sign.add_argument("--per-class", type=int, default=150, help="synthetic samples per class")
    sign.add_argument("--epochs", type=int, default=12)
    sign.add_argument(
        "--recordings", default="", help="train: a folder of `sign record` words (WORD/*.npy) to learn too"
    )
    sign.add_argument("--video", default="", help="record: a video file to take the examples from")
    sign.add_argument("--camera", type=int, default=-1, help="record: a camera device number")
    sign.add_argument("--out", default="sign-recordings", help="record: the folder to add WORD/NNN.npy to")
    sign.add_argument("--count", type=int, default=5, help="record: examples to take")
    sign.add_argument("--seconds", type=float, default=1.5, help="record: length of one example")
    sign.set_defaults(func=_sign)
    ev = groups.eval.add_parser(
        "sign", help="leave-one-signer-out accuracy on real signers, per class, + the older figures"
    )
    ev.add_argument("--signers", default="", help="comma-separated signers to hold out (default: all)")
    ev.set_defaults(func=_eval)
    bench = groups.bench.add_parser(
        "sign", help="tracking + classification frames/s on one core, turn latency"
    )
    bench.add_argument("--frames", type=int, default=150)
    bench.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    bench.set_defaults(func=_bench)


# ------------------------------------------------------------------ commands


def _sign(args: argparse.Namespace) -> int:
    if args.inputs == ["train"]:
        return _train(args)
    if args.inputs[0] == "record":
        from gateway.cli.sign_record import record

        return record(args)
    from gateway.errors import GatewayError
    from modalities.sign.pipeline import SignPipeline
    from modalities.sign.settings import SignSettings
    from models.hands_mediapipe import MediapipeHandTracker
    from models.sign_classifier import MlpSignClassifier

    settings = SignSettings(sample_fps=min(args.fps, 60.0))
    pipeline = SignPipeline(settings, MediapipeHandTracker, MlpSignClassifier())
    last = 0
    try:
        for t_ms, frame in frames_from_files(args.inputs, args.fps):
            last = t_ms
            try:
                events = pipeline.process_frame(frame, t_ms)
            except GatewayError as exc:
                print(f"{t_ms / 1000:8.3f}s  error {exc.code}: {exc}")
                continue
            for event in events:
                print(f"{t_ms / 1000:8.3f}s  {event}")
        for event in pipeline.flush(last):
            print(f"{last / 1000:8.3f}s  {event}")
        print(
            f"frames tracked {pipeline.processed_frames}, with hands {pipeline.frames_with_hands}, "
            f"dropped {pipeline.dropped_frames}"
        )
    finally:
        pipeline.close()
    return 0


def _train(args: argparse.Namespace) -> int:
    from modalities.sign.calibrate import calibrated_thresholds, threshold_arrays
    from modalities.sign.dataset import DataConfig, motion_rows, sequence_windows, static_rows
    from modalities.sign.evaluate import MODEL_DIR, real_samples
    from modalities.sign.multisigner import load_recordings, multi_signer
    from modalities.sign.realdata import hands_root
    from modalities.sign.sequence import SEQ_LABELS, window_features_batch
    from modalities.sign.train import TrainConfig, predict, save, timed_fit
    from modalities.sign.vocabulary import LABELS

    root = hands_root()
    recs, old = [], []
    if root is None:
        print("realdata/hands not found: training on synthetic hands (and any recordings) only")
    else:
        from models.hands_mediapipe import MediapipeHandTracker

        recs = multi_signer(root, warn=print)
        tracker = MediapipeHandTracker(video=False)
        try:
            old = real_samples(root, tracker)
        finally:
            tracker.close()
    own = load_recordings(Path(args.recordings), warn=print) if args.recordings else []
    extra = sorted({r.label for r in own} - set(SEQ_LABELS))
    seq_labels = (*SEQ_LABELS, *extra)
    data = DataConfig(seed=args.seed, synthetic_per_class=args.per_class)
    signers = sorted({r.signer for r in recs + own})
    print(f"real recordings: {len(recs)} from {len(signers)} signers {signers}; own words {extra or 'none'}")
    x, y, _ = static_rows(recs, old, data)
    cfg = TrainConfig(seed=args.seed, epochs=args.epochs, members=3)  # an ensemble of 3 (docs/sign.md)
    weights, seconds = timed_fit(x, y, len(LABELS), cfg)
    handshape = weights
    common = {
        "real_signers": signers,
        "licences": {
            "synthetic": "project-made (hand model in modalities/sign/handmodel.py)",
            "asl_multi_signer": "MIT, each folder's LICENSE (see its SOURCE.txt for repository and commit)",
            "borisgraudt": "MIT (borisgraudt/asl-ai), dataset badge CC0",
            "mediapipe-photos": "Apache-2.0 (google-ai-edge/mediapipe model_maker testdata)",
        },
    }
    info = save(
        weights,
        LABELS,
        cfg,
        MODEL_DIR / "sign_mlp.npz",
        {**common, "data": data.__dict__, "training_rows": len(y), "train_seconds": seconds},
    )
    print(f"handshape model: {info['model']}, {len(y)} rows, {seconds} s, sha256 {info['sha256']}")
    handshape_sha = info["sha256"]
    # the window model without the spliced letter-to-letter transitions, the motion-letter model
    # with them (modalities/sign/loso.py does the same per fold)
    plain, ys, _ = sequence_windows(recs + own, replace(data, transitions=0), seq_labels)
    xs = window_features_batch(plain)
    del plain
    seq_cfg = TrainConfig(seed=args.seed, hidden=(128,), epochs=args.epochs)
    weights, seconds = timed_fit(xs, ys, len(seq_labels), seq_cfg)
    info = save(
        weights,
        seq_labels,
        seq_cfg,
        MODEL_DIR / "sign_seq.npz",
        {**common, "data": replace(data, transitions=0).__dict__, "training_rows": len(ys),
         "train_seconds": seconds, "own_words": extra},
    )
    print(f"sequence model: {info['model']}, {len(ys)} rows, {seconds} s, sha256 {info['sha256']}")
    # J and Z: the motion-letter model reads the handshape model's probabilities (trained above)
    static_sha = str(handshape_sha)
    windows, ys, _ = sequence_windows(recs + own, data, seq_labels)
    known = ys < len(SEQ_LABELS)  # a deployment's own words stay with the window model
    xm = motion_rows(windows[known], lambda f: predict(handshape, f))
    weights, seconds = timed_fit(xm, ys[known], len(SEQ_LABELS), seq_cfg)
    # J and Z thresholds chosen on people the models did not see (calibrate.py): every movement
    # signer read by fold-size models trained without them
    started = time.perf_counter()
    thresholds = calibrated_thresholds(recs, old, data, args.seed)
    calibration = {"thresholds": thresholds, "seconds": round(time.perf_counter() - started, 1),
                   "rule": "calibrate.class_thresholds on leave-one-signer-out readings of fold models "
                           "(handshape 3 x 475-128-64, motion-letter 1122-64, 8 epochs)"}
    info = save(
        weights,
        SEQ_LABELS,
        seq_cfg,
        MODEL_DIR / "sign_motion.npz",
        {**common, "data": data.__dict__, "training_rows": len(xm), "train_seconds": seconds,
         "handshape_model_sha256": static_sha, "calibration": calibration},
        threshold_arrays(thresholds),
    )
    print(f"motion-letter model: {info['model']}, {len(xm)} rows, {seconds} s, sha256 {info['sha256']}; "
          f"thresholds {thresholds} ({calibration['seconds']} s)")
    return 0



def _eval(args: argparse.Namespace) -> int:
    from modalities.sign.evaluate import (
        default_weights,
        detection_rate,
        published_baseline,
        real_samples,
        unseen_photos,
    )
    from modalities.sign.loso import evaluate, print_report
    from modalities.sign.multisigner import multi_signer
    from modalities.sign.realdata import hands_root
    from modalities.sign.settings import SignSettings
    from models.hands_mediapipe import MediapipeHandTracker
    from models.sign_classifier import MlpSignClassifier

    root = hands_root()
    if root is None:
        print("realdata/hands not found (set GATEWAY_REALDATA): nothing to evaluate")
        return 2
    tracker = MediapipeHandTracker(video=False)
    try:
        samples = real_samples(root, tracker)
    finally:
        tracker.close()
    rates = detection_rate(samples)
    found = sum(f for f, _ in rates.values())
    total = sum(t for _, t in rates.values())
    print(
        f"landmark detection on real photos: {found}/{total} = {found / max(total, 1):.1%}  "
        + "  ".join(f"{k} {f}/{t}" for k, (f, t) in sorted(rates.items()))
    )
    for source in sorted({s.source for s in samples}):
        baseline = published_baseline([s for s in samples if s.source == source])
        if baseline is not None:
            print(
                f"{source} -- baseline, published ASL-Alpnum-Recognizer net (numpy, same landmarks): "
                f"{baseline.correct}/{baseline.total} = {baseline.accuracy:.1%}"
            )
    recs = multi_signer(root, warn=print)
    chosen = [s for s in args.signers.split(",") if s] or None
    started = time.perf_counter()
    print("\nleave-one-signer-out (each line: both models trained WITHOUT that signer, scored on them):")
    report = evaluate(recs, samples, signers=chosen)
    print_report(report)
    print(f"\n(leave-one-signer-out took {time.perf_counter() - started:.0f} s)")
    settings = SignSettings()
    unseen = unseen_photos(MlpSignClassifier(default_weights()), samples, settings)
    print(
        "\nphotos no model trained on (the source's none and rock folders, labelled by a person; "
        "shipped model, each photo as a held still frame):\n"
        f"  index finger raised (4 people) read as the index hand: "
        f"{unseen.index_correct}/{unseen.index_total}\n"
        f"  out of vocabulary (thumbs-down, hand at rest, horns): {unseen.other_total} photos, "
        f"{unseen.ignored} ignored (< {settings.min_confidence} or at rest), {unseen.read_back} read back "
        f"(< {settings.readback_threshold}), {len(unseen.accepted)} accepted as a sign"
        + ("".join(f"\n    {name}: {label} {conf}" for name, label, conf in unseen.accepted))
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from modalities.sign.decoder import SignDecoder
    from modalities.sign.evaluate import bench_frames
    from modalities.sign.events import SignTurnReady
    from modalities.sign.realdata import hands_root
    from modalities.sign.settings import SignSettings
    from models.hands_mediapipe import MediapipeHandTracker
    from models.sign_classifier import MlpSignClassifier

    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core for every thread
    root = hands_root()
    if root is None:
        print("realdata/hands not found (set GATEWAY_REALDATA): nothing to benchmark")
        return 2
    classifier = MlpSignClassifier()
    if classifier.sequence is None:
        print("sequence model missing (gateway sign train): timing handshapes only")
    cores = "all cores" if args.all_cores else "1 core"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{cores}; machine load average {load} (other work on the box slows these figures)")
    results = {}
    for hands in (1, 2):
        for hold, what in ((30, "steady video (1 s per photo)"), (1, "new photo every frame")):
            tracker = MediapipeHandTracker(video=True, num_hands=hands)
            try:
                bench_frames(tracker, classifier, root, 10, hold)  # warm-up
                r = bench_frames(tracker, classifier, root, args.frames, hold)
            finally:
                tracker.close()
            results[(hands, hold)] = r
            print(
                f"num_hands={hands}, {what}: {r['fps']:.1f} frames/s; "
                f"per frame p50 {r['total_p50_ms']:.1f} ms p95 {r['total_p95_ms']:.1f} ms "
                f"(track p50 {r['track_p50_ms']:.1f} ms, classify p50 "
                f"{r['classify_p50_ms']:.2f} ms p95 {r['classify_p95_ms']:.2f} ms, sequence model p50 "
                f"{r['sequence_p50_ms']:.2f} ms p95 {r['sequence_p95_ms']:.2f} ms)"
            )
    r = results[(2, 30)]
    # End of signing -> text turn: media-time wait (rest_ms at the sampling grid) + compute per frame.
    settings = SignSettings()
    decoder = SignDecoder(settings)
    period = 1000 / settings.sample_fps
    from models.sign_classifier import SignFrame

    frame = SignFrame(label="B", confidence=0.95)
    t = 0.0
    while t < 600:
        decoder.push(int(t), frame)
        t += period
    last_sign = t - period
    started = time.perf_counter()
    turn_t = None
    while turn_t is None and t < 10_000:
        if any(isinstance(e, SignTurnReady) for e in decoder.push(int(t), None)):
            turn_t = t
        t += period
    decide_ms = (time.perf_counter() - started) * 1000
    assert turn_t is not None
    wait = turn_t - last_sign
    print(
        f"end of signing -> text turn: {wait:.0f} ms media time (rest_ms={settings.rest_ms} at "
        f"{settings.sample_fps:g} fps) + last frame compute p50 {r['total_p50_ms']:.1f} ms "
        f"= {wait + r['total_p50_ms']:.0f} ms; decoder cost {decide_ms:.2f} ms for the whole rest"
    )
    return 0
