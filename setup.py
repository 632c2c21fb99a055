import os.path as osp

from setuptools import find_packages, setup


def readme():
    with open('README.md', encoding='utf-8') as f:
        return f.read()


def get_version():
    scope = {}
    with open(osp.join('mmmrmllm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname):
    """Requirement lines of a file under requirements/, comments dropped."""
    reqs = []
    with open(osp.join('requirements', fname)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                reqs.append(line)
    return reqs


setup(
    name='mmmrmllm',
    version=get_version(),
    description='MR-MLLM: mutual reinforcement of multimodal comprehension '
    'and vision perception, on the OpenMMLab stack',
    long_description=readme(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'projects')),
    include_package_data=True,
    # torch 2.14.1 and torchvision 0.29.1 (requirements/build.txt) need
    # 3.10; developed and tested on 3.11
    python_requires='>=3.10',
    license='Apache License 2.0',
    install_requires=parse_requirements('runtime.txt') +
    parse_requirements('mmcv.txt'),
    extras_require=dict(tests=parse_requirements('tests.txt')),
    zip_safe=False)
