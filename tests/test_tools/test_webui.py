"""The web demo (tools/webui.py) in a real headless browser (Debian's
chromium + chromium-driver, Selenium) and through gradio_client."""
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WEBUI = osp.join(ROOT, 'tools', 'webui.py')
TINY = osp.join(ROOT, 'tests', 'data', 'configs', 'mrmllm_tiny_cli.py')
QUESTION = 'How many circles are there?'


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
    """Data (for the tokenizer and the examples) and a checkpoint of the
    tiny CLI model."""
    from mmengine.config import Config

    from mmmrmllm.datasets.cornershapes import generate_cornershapes
    from mmmrmllm.registry import MODELS
    from mmmrmllm.utils import register_all_modules
    root = tmp_path_factory.mktemp('webui')
    generate_cornershapes(
        str(root / 'data' / 'cornershapes'),
        sizes=dict(det_train=2, vqa_train=2, val=3, corner=0, novel=0),
        img_size=64)
    register_all_modules()
    cwd = os.getcwd()
    os.chdir(root)  # the config's paths are relative to the work folder
    try:
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(TINY).model)
    finally:
        os.chdir(cwd)
    classes = ['circle', 'square', 'triangle']
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=classes))),
               root / 'tiny.pth')
    return root


def expected_answer(workspace, image, question):
    """What the same model answers, computed here without the server."""
    from mmmrmllm.apis import MRMLLMInferencer
    cwd = os.getcwd()
    os.chdir(workspace)
    try:
        inf = MRMLLMInferencer(TINY, str(workspace / 'tiny.pth'))
        return inf.ask(inf.perceive(str(image)), question)['answer']
    finally:
        os.chdir(cwd)


@pytest.fixture(scope='module')
def server(workspace):
    port = free_port()
    log = open(workspace / 'webui.log', 'w')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.Popen(
        [sys.executable, WEBUI, TINY, str(workspace / 'tiny.pth'),
         '--port', str(port)],
        cwd=str(workspace), env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}/'
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                log.close()
                proc.kill()
                pytest.fail('the web demo did not start:\n' +
                            (workspace / 'webui.log').read_text()[-3000:])
            time.sleep(1)
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture(scope='module')
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chromium = shutil.which('chromium')
    driver = shutil.which('chromedriver')
    if not (chromium and driver):
        pytest.fail('chromium and chromedriver are needed (Debian: apt-get '
                    'install chromium chromium-driver; make setup does it '
                    'as root)')
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage',
                '--disable-gpu', '--window-size=1400,1200'):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(driver), options=opts)
    yield drv
    drv.quit()


def wait_for(browser, fn, timeout=120, what=''):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(browser, timeout).until(
        lambda d: fn(d), message=f'timed out waiting for {what}')


def upload(browser, path):
    """Put ``path`` in the upload box (clearing the previous file first,
    as a user would)."""
    from selenium.webdriver.common.by import By
    css = '#upload input[type=file]'
    if not browser.find_elements(By.CSS_SELECTOR, css):
        browser.find_element(By.CSS_SELECTOR,
                             '#upload button[aria-label=Clear]').click()
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, css),
                 what='an empty upload box')
    browser.find_element(By.CSS_SELECTOR, css).send_keys(str(path))


def text_of(browser, elem_id):
    from selenium.webdriver.common.by import By
    return browser.find_element(By.ID, elem_id).text


def ask(browser, question):
    from selenium.webdriver.common.by import By
    box = browser.find_element(By.CSS_SELECTOR, '#question textarea')
    box.clear()
    box.send_keys(question)
    browser.find_element(By.ID, 'ask').click()


def test_upload_ask_and_see_boxes(server, browser, workspace, tmp_path):
    from selenium.webdriver.common.by import By
    url, _ = server
    image = sorted((workspace / 'data' / 'cornershapes' / 'images' /
                    'val').glob('*.png'))[0]
    want = expected_answer(workspace, image, QUESTION)
    browser.get(url)
    wait_for(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#upload input[type=file]'), what='the page')
    upload(browser, image)
    wait_for(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#detections img'), what='the drawn image')
    wait_for(browser, lambda d: 'object(s) above score' in text_of(
        d, 'status'), what='the detection count')
    src = browser.find_element(By.CSS_SELECTOR,
                               '#detections img').get_attribute('src')
    assert src, 'the drawn-boxes image has no source'
    assert 'detector head' in text_of(browser, 'perception-timing')

    browser.find_element(By.CSS_SELECTOR, '#show-prompt input').click()
    ask(browser, QUESTION)
    wait_for(browser, lambda d: QUESTION in text_of(d, 'chat')
             and 'LLM' in text_of(d, 'question-timing'),
             what='the answer')
    chat = text_of(browser, 'chat')
    assert (want or '∅') in chat.split(QUESTION, 1)[1], (want, chat)
    prompt = browser.find_element(
        By.CSS_SELECTOR, '#prompt textarea').get_attribute('value')
    # the prompt as the LLM reads it: its tokenizer lower-cases the text
    assert QUESTION.lower() in prompt and 'visual tokens' in prompt
    browser.save_screenshot(str(tmp_path / 'webui.png'))
    assert (tmp_path / 'webui.png').stat().st_size > 0


def test_bad_inputs_show_messages_and_server_survives(server, browser,
                                                      workspace, tmp_path):
    from selenium.webdriver.common.by import By
    url, proc = server
    browser.get(url)
    wait_for(browser, lambda d: d.find_elements(
        By.CSS_SELECTOR, '#upload input[type=file]'), what='the page')
    text = tmp_path / 'notes.txt'
    text.write_text('not an image')
    upload(browser, text)
    wait_for(browser, lambda d: 'not an image' in text_of(d, 'error'),
             what='the error message')
    assert 'Traceback' not in browser.page_source
    # asking before a usable image is a message, not a crash
    ask(browser, QUESTION)
    wait_for(browser, lambda d: 'Upload an image first' in text_of(
        d, 'error'), what='the upload-first message')
    # a good image, then an empty and an over-long question
    image = sorted((workspace / 'data' / 'cornershapes' / 'images' /
                    'val').glob('*.png'))[1]
    upload(browser, image)
    wait_for(browser, lambda d: 'object(s) above score' in text_of(
        d, 'status'), what='the detections')
    ask(browser, '   ')
    wait_for(browser, lambda d: 'question is empty' in text_of(d, 'error'),
             what='the empty-question message')
    ask(browser, 'why ' * 200)
    wait_for(browser, lambda d: 'characters long' in text_of(d, 'error'),
             what='the too-long message')
    ask(browser, QUESTION)
    wait_for(browser, lambda d: QUESTION in text_of(d, 'chat'),
             what='an answer after the errors')
    assert proc.poll() is None, 'the server died'
    browser.save_screenshot(str(tmp_path / 'webui_errors.png'))


def test_api_through_gradio_client(server, workspace):
    from gradio_client import Client, handle_file
    url, _ = server
    image = sorted((workspace / 'data' / 'cornershapes' / 'images' /
                    'val').glob('*.png'))[2]
    client = Client(url, verbose=False)
    # outputs without the session state: picture, status, chat, error,
    # perception timing
    picture, status, chat, error, timing = client.predict(
        handle_file(str(image)), 0.3, api_name='/upload')
    assert 'object(s) above score' in status, status
    assert osp.isfile(picture)
    assert chat == [] and not error
    assert 'detector head' in timing and 'vision encoder' in timing
    # the slider redraws from the same perception (the session's state)
    picture, status = client.predict(1.0, api_name='/threshold')
    assert status == '0 object(s) above score 1.00.' and osp.isfile(picture)


def test_example_images_generated_without_data(tmp_path, monkeypatch):
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    import webui
    monkeypatch.chdir(tmp_path)  # no data/cornershapes here
    paths = webui.example_images(num=2)
    assert len(paths) == 2
    import mmcv
    for p in paths:
        img = mmcv.imread(p)
        assert img.shape == (128, 128, 3) and img.std() > 0
    # with the data folder: its val images
    folder = tmp_path / 'data' / 'cornershapes' / 'images' / 'val'
    folder.mkdir(parents=True)
    for p in paths:
        shutil.copy(p, folder)
    assert [osp.basename(p) for p in webui.example_images(num=1)] == [
        'example_0.png']
