"""A Pipecat 1.14 voice bot that serves ONE caller over the gateway's WebSocket protocol v1.

Run it in Pipecat's own virtualenv (never the project's), one process per caller, as Pipecat
deploys; `gateway bench pipecat` starts and stops them:

    /tmp/venv-pipecat/bin/python benchmarks/pipecat/bot.py --port 8200 \
        --whisper-dir DIR --piper-voice DIR/en_US-joe-medium.onnx

The pipeline is Pipecat's documented voice loop (transport in -> STT -> user context aggregator
with Silero VAD and the default Smart Turn v3 turn stop -> "LLM" -> TTS -> transport out ->
assistant aggregator) with the project's own weights: faster-whisper tiny.en (int8, CPU) from the
local CTranslate2 folder and Piper with the bundled en_US-joe-medium voice; nothing is downloaded.
Pipecat has no knowledge base, so the "LLM" is a stand-in that answers every turn with one fixed
short KB-like sentence: the comparison is of the voice loop, not of the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from pathlib import Path

from loguru import logger
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.frames.frames import (
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.runner import PipelineRunner
from pipecat.pipeline.task import PipelineParams, PipelineTask
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.transports.websocket.server import (
    SingleClientWebsocketServerParams,
    SingleClientWebsocketServerTransport,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import v1_wire  # beside this file; standard library only

# Two sentences: Pipecat's TTS speaks sentence by sentence, so its first audio waits for a short
# first sentence, about as long as the gateway's first clause ("This sounds urgent.").
ANSWER = "Returns are easy. You can return any item within thirty days of delivery for a full refund."


class V1Serializer(FrameSerializer):
    """Protocol v1 frames <-> Pipecat frames. Replies to session.start / session.end go out
    through `send` (a queued urgent transport message), since deserialize can only return one
    frame into the pipeline."""

    def __init__(self) -> None:
        super().__init__()
        self.send: asyncio.Queue[dict[str, object]] = asyncio.Queue(64)

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if self.should_ignore_frame(frame):  # Pipecat's own RTVI client messages: not protocol v1
            return None
        if isinstance(frame, OutputAudioRawFrame):
            return frame.audio  # pcm16 at the pipeline's output rate, 16 kHz
        if isinstance(frame, OutputTransportMessageFrame | OutputTransportMessageUrgentFrame):
            return v1_wire.encode(frame.message)
        if isinstance(frame, InterruptionFrame):
            return v1_wire.encode({"type": "audio.clear", "turn_id": 0, "media_time_ms": 0})
        return None

    async def deserialize(self, data: str | bytes) -> Frame | None:
        decoded = v1_wire.decode(data)
        if isinstance(decoded, v1_wire.Audio):
            return InputAudioRawFrame(audio=decoded.pcm16, sample_rate=v1_wire.SAMPLE_RATE, num_channels=1)
        if isinstance(decoded, v1_wire.Start):
            self._reply(v1_wire.started(f"pipecat-{uuid.uuid4().hex[:12]}", decoded.language))
        elif isinstance(decoded, v1_wire.End):
            self._reply({"type": "session.ended", "session_id": "", "reason": "caller-hangup"})
        elif isinstance(decoded, v1_wire.Refused):
            self._reply(v1_wire.error(decoded))
        return None

    def _reply(self, event: dict[str, object]) -> None:
        if not self.send.full():
            self.send.put_nowait(event)


class FixedAnswer(FrameProcessor):
    """Stands where the LLM would: every user turn (an LLMContextFrame from the user aggregator)
    is answered with ANSWER; when the bot stops speaking, the caller gets `reply.audio.end`."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self.push_frame(LLMFullResponseStartFrame())
            await self.push_frame(LLMTextFrame(ANSWER))
            await self.push_frame(LLMFullResponseEndFrame())
            return
        if isinstance(frame, BotStoppedSpeakingFrame) and direction == FrameDirection.UPSTREAM:
            await self.push_frame(OutputTransportMessageUrgentFrame(message={"type": "reply.audio.end",
                                                                             "turn_id": 0}))
        await self.push_frame(frame, direction)


async def main(args: argparse.Namespace) -> None:
    logger.remove()  # Pipecat logs every frame hop at DEBUG; the gateway it is compared with logs INFO
    logger.add(sys.stderr, level=args.log_level)
    serializer = V1Serializer()
    transport = SingleClientWebsocketServerTransport(
        params=SingleClientWebsocketServerParams(serializer=serializer, audio_in_enabled=True,
                                                 audio_out_enabled=True, add_wav_header=False),
        host="127.0.0.1", port=args.port)
    stt = WhisperSTTService(device="cpu", compute_type="int8",
                            settings=WhisperSTTService.Settings(model=args.whisper_dir, language=Language.EN))
    voice = Path(args.piper_voice)
    tts = PiperTTSService(download_dir=voice.parent,
                          settings=PiperTTSService.Settings(voice=voice.name.removesuffix(".onnx")))
    context = LLMContext([{"role": "system", "content": "Answer from the knowledge base."}])
    user, assistant = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer()))
    pipeline = Pipeline([transport.input(), stt, user, FixedAnswer(), tts, transport.output(), assistant])
    task = PipelineTask(pipeline, params=PipelineParams(audio_in_sample_rate=v1_wire.SAMPLE_RATE,
                                                        audio_out_sample_rate=v1_wire.SAMPLE_RATE))

    async def relay() -> None:  # session.started / session.ended / errors to the caller
        while True:
            event = await serializer.send.get()
            await task.queue_frame(OutputTransportMessageUrgentFrame(message=event))

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(_transport: object, _ws: object) -> None:
        await task.cancel()  # one caller per process: the call is over

    relay_task = asyncio.create_task(relay())
    print(f"pipecat bot ready on ws://127.0.0.1:{args.port}", flush=True)
    try:
        await PipelineRunner(handle_sigint=True).run(task)
    finally:
        relay_task.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--whisper-dir", required=True, help="CTranslate2 folder of faster-whisper tiny.en")
    parser.add_argument("--piper-voice", required=True, help="a Piper voice .onnx (its .json beside)")
    parser.add_argument("--log-level", default="INFO")
    asyncio.run(main(parser.parse_args()))
