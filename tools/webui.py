"""A web chat demo: upload an image, see its detections, ask questions.

Example::

    python tools/webui.py CONFIG CHECKPOINT [--port 7860] [--host 127.0.0.1]

Serves on localhost by default (never a public share link). Perception (the
detector and the vision encoder) runs once per uploaded image; each
question then runs the LLM only. Needs the optional requirements in
``requirements/webui.txt`` (``make setup`` installs them).
"""
import argparse
import os
import os.path as osp
import sys
import tempfile

os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from mmmrmllm.apis import InputError, MRMLLMInferencer  # noqa: E402

PART_NAMES = (('detector.extract', 'detector backbone + neck'),
              ('detector.head', 'detector head'),
              ('vision_encoder', 'vision encoder'), ('fusion', 'fusion'),
              ('feedback', 'feedback'),
              ('perception_encoder', 'box tokens'), ('prompts', 'prompt'),
              ('llm', 'LLM'))


DRAW_SIDE = 384  # small images are enlarged to this for drawing


def parse_args(argv=None):
    p = argparse.ArgumentParser(description='MR-MLLM web chat demo')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--port', type=int, default=7860)
    p.add_argument('--host', default='127.0.0.1',
                   help='address to bind (default: localhost only)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--score-thr', type=float, default=0.3)
    p.add_argument('--max-pixels', type=int, default=4096 * 4096)
    p.add_argument('--max-question-chars', type=int, default=500)
    p.add_argument('--examples-dir', default=None,
                   help='example images (default: a few CornerShapes '
                   'images from data/cornershapes, or generated)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    return p.parse_args(argv)


def example_images(folder=None, num=3):
    """A few CornerShapes images: from ``folder``, the data folder, or
    generated now into a temporary folder."""
    if folder is None:
        val = osp.join('data', 'cornershapes', 'images', 'val')
        if osp.isdir(val):
            folder = val
    if folder is not None and osp.isdir(folder):
        names = sorted(f for f in os.listdir(folder)
                       if f.lower().endswith(('.png', '.jpg', '.jpeg')))
        if names:
            return [osp.join(folder, f) for f in names[:num]]
    import mmcv

    from mmmrmllm.datasets.cornershapes.generator import generate_image
    out = tempfile.mkdtemp(prefix='mrmllm-webui-')
    paths = []
    for i in range(num):
        img = generate_image(0, 'val', i)['image']
        path = osp.join(out, f'example_{i}.png')
        mmcv.imwrite(img[..., ::-1], path)
        paths.append(path)
    return paths


def timing_markdown(title, timings):
    rows = [(label, timings[key]) for key, label in PART_NAMES
            if key in timings]
    if not rows:
        return ''
    lines = [f'**{title}**', '', '| part | ms |', '|---|---|']
    lines += [f'| {label} | {1000 * sec:.1f} |' for label, sec in rows]
    return '\n'.join(lines)


def error_markdown(message):
    return f'<div class="mrmllm-error">⚠️ {message}</div>'


def build_app(inferencer: MRMLLMInferencer, score_thr=0.3, examples=()):
    import gradio as gr

    def on_upload(path, thr):
        if path is None:  # cleared: start over
            return None, None, '', [], '', ''
        try:
            session = inferencer.perceive(path)
        except InputError as err:
            return (None, None, '', [], error_markdown(err), '')
        except Exception as err:  # noqa: BLE001 - keep the server up
            return (None, None, '', [], error_markdown(
                f'could not process the image: {type(err).__name__}: '
                f'{err}'), '')
        dets = inferencer.detections(session, thr)
        if inferencer.has_detector:
            status = f'{len(dets)} object(s) above score {thr:.2f}.'
        else:
            status = 'This model has no detector: answers without boxes.'
        if not inferencer.has_llm:
            status += ' This model has no LLM: questions need an MLLM ' \
                'config.'
        return (session, inferencer.draw(session, thr, DRAW_SIDE), status,
                [], '', timing_markdown('Perception of this image',
                                        session.timings))

    def on_threshold(session, thr):
        if session is None:
            return None, ''
        dets = inferencer.detections(session, thr)
        return (inferencer.draw(session, thr, DRAW_SIDE),
                f'{len(dets)} object(s) above score {thr:.2f}.')

    def on_ask(session, question, history, show_prompt):
        history = list(history or [])
        if session is None:
            return (history, question, '',
                    error_markdown('Upload an image first.'), gr.skip())
        try:
            out = inferencer.ask(session, question)
        except InputError as err:
            return history, question, '', error_markdown(err), gr.skip()
        except Exception as err:  # noqa: BLE001 - keep the server up
            return (history, question, '', error_markdown(
                f'could not answer: {type(err).__name__}: {err}'),
                gr.skip())
        q = inferencer.check_question(question)
        history += [dict(role='user', content=q),
                    dict(role='assistant', content=out['answer'] or '∅')]
        prompt = out['prompt'] if show_prompt else ''
        return (history, '', prompt, '', timing_markdown(
            'Last question', out['timings']))

    with gr.Blocks(title='MR-MLLM') as app:
        gr.Markdown('# MR-MLLM\nUpload an image: the detector and the '
                    'MLLM look at it once; then ask questions about it.')
        session = gr.State(None)
        with gr.Row():
            with gr.Column():
                upload = gr.File(label='Image', elem_id='upload',
                                 type='filepath')
                if examples:
                    gr.Examples(examples=[[p] for p in examples],
                                inputs=[upload], label='Examples')
                thr = gr.Slider(0.0, 1.0, value=score_thr, step=0.05,
                                label='Score threshold', elem_id='thr')
                picture = gr.Image(label='Detections', elem_id='detections',
                                   interactive=False, type='numpy',
                                   height=360)
                status = gr.Markdown(elem_id='status')
                perception_time = gr.Markdown(elem_id='perception-timing')
            with gr.Column():
                chat = gr.Chatbot(label='Chat', elem_id='chat')
                question = gr.Textbox(label='Question', elem_id='question',
                                      placeholder='How many circles are '
                                      'there?')
                ask = gr.Button('Ask', elem_id='ask', variant='primary')
                show_prompt = gr.Checkbox(label='Show the perception prompt',
                                          elem_id='show-prompt')
                prompt = gr.Textbox(label='Prompt the LLM received',
                                    elem_id='prompt', interactive=False)
                error = gr.Markdown(elem_id='error')
                question_time = gr.Markdown(elem_id='question-timing')
        upload.change(on_upload, [upload, thr],
                      [session, picture, status, chat, error,
                       perception_time], api_name='upload')
        thr.release(on_threshold, [session, thr], [picture, status],
                    api_name='threshold')
        for trigger in (ask.click, question.submit):
            trigger(on_ask, [session, question, chat, show_prompt],
                    [chat, question, prompt, error, question_time],
                    api_name='ask' if trigger == ask.click else False)
    return app


def main(argv=None):
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise SystemExit('error: the web demo needs gradio: pip install -r '
                         'requirements/webui.txt (make setup does it)')
    try:
        inferencer = MRMLLMInferencer(
            args.config, args.checkpoint, device=args.device,
            cfg_options=args.cfg_options, max_pixels=args.max_pixels,
            max_question_chars=args.max_question_chars)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit('error: ' + ' '.join(str(err).split()))
    app = build_app(inferencer, args.score_thr,
                    example_images(args.examples_dir))
    print(f'serving on http://{args.host}:{args.port}', flush=True)
    app.launch(server_name=args.host, server_port=args.port, share=False,
               show_error=False, inbrowser=False)


if __name__ == '__main__':
    main()
