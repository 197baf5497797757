"""Every configuration key with its default value, one comment each.

This is the union of the keys used by the official HRNet-Semantic-Segmentation branches
(master, pytorch-v1.1, HRNet-OCR) and the forks this project replaces, so their YAML files
load unchanged, plus the keys of features added here (marked "new").
"""

from yacs.config import CfgNode as CN

_C = CN()

_C.OUTPUT_DIR = ""  # root of run outputs: OUTPUT_DIR/<DATASET.DATASET>/<cfg name>/
_C.LOG_DIR = ""  # root of TensorBoard logs
_C.GPUS = (0,)  # kept for old YAMLs; the process count comes from torchrun, not from here
_C.WORKERS = 4  # DataLoader worker processes per training process
_C.PRINT_FREQ = 20  # log every N iterations
_C.AUTO_RESUME = False  # resume from OUTPUT_DIR/.../checkpoint.pth.tar when it exists
_C.PIN_MEMORY = True  # pinned host memory for the loaders (CUDA only)
_C.RANK = 0  # kept for old YAMLs; the rank comes from the RANK environment variable

_C.CUDNN = CN()
_C.CUDNN.BENCHMARK = True  # cudnn autotuner
_C.CUDNN.DETERMINISTIC = False  # deterministic cudnn kernels
_C.CUDNN.ENABLED = True  # use cudnn at all

_C.MODEL = CN()
_C.MODEL.NAME = "seg_hrnet"  # registry name: seg_hrnet, seg_hrnet_ocr, seg_litehrnet, ...
_C.MODEL.PRETRAINED = ""  # ImageNet (HRNet-Image-Classification) weights for the backbone
_C.MODEL.ALIGN_CORNERS = True  # align_corners of every bilinear resize (False for master recipes)
_C.MODEL.BN_MOMENTUM = 0.0  # new: BatchNorm momentum; 0 keeps the model's (0.1; master YAMLs 0.01)
_C.MODEL.EXTRA = CN(new_allowed=True)  # architecture spec, validated by the model that reads it
_C.MODEL.FINETUNE_REINIT = []  # new: key prefixes re-initialised when loading PRETRAINED/weights
# of another class count, e.g. ['cls_head', 'aux_head.3']

_C.MODEL.OCR = CN()
_C.MODEL.OCR.MID_CHANNELS = 512  # channels of the OCR pixel representation
_C.MODEL.OCR.KEY_CHANNELS = 256  # channels of the OCR attention keys and queries
_C.MODEL.OCR.DROPOUT = 0.05  # dropout after the OCR fusion
_C.MODEL.OCR.SCALE = 1  # down-sampling scale inside the object attention

_C.MODEL.HANET = CN()  # new: height-driven attention (seg_hrnet_hanet; seg_litehrnet with_hanet)
_C.MODEL.HANET.KERNEL_SIZE = 3  # kernel of the last 1-D conv of the attention
_C.MODEL.HANET.R_FACTOR = 64  # first 1-D conv reduces C channels to ceil(C / R_FACTOR)
_C.MODEL.HANET.LAYERS = 3  # 1-D conv layers of the attention (2 or 3)
_C.MODEL.HANET.POS_INJECTION = 2  # positional code added to the pooled rows (1) or after conv 1 (2)
_C.MODEL.HANET.POS_RFACTOR = 8  # rows are pooled to 128 // POS_RFACTOR heights
_C.MODEL.HANET.POOLING = "mean"  # row pooling: mean or max
_C.MODEL.HANET.DROPOUT = 0.1  # channel dropout on the pooled rows during training
_C.MODEL.HANET.POS_NOISE = 0.5  # std (rows) of the training jitter of the row positions
_C.MODEL.HANET.POS_ENCODING = False  # add the positional code (paper: True); False = the fork

_C.LOSS = CN()
_C.LOSS.USE_OHEM = False  # online hard example mining cross-entropy
_C.LOSS.OHEMTHRES = 0.9  # OHEM probability threshold
_C.LOSS.OHEMKEEP = 100000  # OHEM minimum number of kept pixels
_C.LOSS.CLASS_BALANCE = True  # kept for old YAMLs; class weights come from DATASET.CLASS_WEIGHTS
_C.LOSS.BALANCE_WEIGHTS = [1]  # weight of each model output in the loss (OCR: [0.4, 1])

_C.DATASET = CN()
_C.DATASET.ROOT = ""  # dataset root; list files are relative to it
_C.DATASET.DATASET = "cityscapes"  # registry name of the dataset
_C.DATASET.NUM_CLASSES = 19  # number of classes
_C.DATASET.TRAIN_SET = "list/cityscapes/train.lst"  # training list file, relative to ROOT
_C.DATASET.EXTRA_TRAIN_SET = ""  # list file of the extra training phase (EXTRA_EPOCH)
_C.DATASET.TEST_SET = "list/cityscapes/val.lst"  # validation / test list file, relative to ROOT
_C.DATASET.CLASS_WEIGHTS = []  # new: per-class loss weights; empty = the dataset's own table
_C.DATASET.COLOR_MAP = "colorMap.txt"  # new: class table (name id R G B) for colour-labelled data
_C.DATASET.COMPRESS_MAP = ""  # new: classes merging raw ids (name R G B id1 id2 ..., the panorama
# fork's compressMap.txt) for the custom and panorama datasets; empty = COLOR_MAP's classes
_C.DATASET.AUGMENTATION = ""  # new: "" the HRNet augmentation; "panorama": the panorama fork's
# pytorch-v1.1 HEAD (motion blur + barrel distortion to the crop size, of every labelled item)
_C.DATASET.SHORT_SIDE = False  # new: short side resized to the base size first, for training and
# testing, as the OCR branch's 2021 PASCAL-Context (its _paddle YAMLs); ade20k, cocostuff: always

_C.TRAIN = CN()
_C.TRAIN.FREEZE_LAYERS = ""  # kept for old YAMLs (unused by the original code)
_C.TRAIN.FREEZE_EPOCHS = -1  # kept for old YAMLs (unused by the original code)
_C.TRAIN.NONBACKBONE_KEYWORDS = []  # parameter-name keywords that get the LR multiplier below
_C.TRAIN.NONBACKBONE_MULT = 10  # LR multiplier of the non-backbone parameters
_C.TRAIN.IMAGE_SIZE = [1024, 512]  # training crop, width x height
_C.TRAIN.BASE_SIZE = 2048  # long side before random rescaling
_C.TRAIN.DOWNSAMPLERATE = 1  # label down-sampling factor
_C.TRAIN.FLIP = True  # random horizontal flip
_C.TRAIN.MULTI_SCALE = True  # random rescale by 0.5 + randint(0, SCALE_FACTOR) / 10
_C.TRAIN.SCALE_FACTOR = 16  # range of the random rescale
_C.TRAIN.RANDOM_BRIGHTNESS = False  # random brightness shift
_C.TRAIN.RANDOM_BRIGHTNESS_SHIFT_VALUE = 10  # maximum brightness shift
_C.TRAIN.LR_FACTOR = 0.1  # kept for old YAMLs (the schedule is TRAIN.LR_SCHEDULER)
_C.TRAIN.LR_STEP = [90, 110]  # kept for old YAMLs (the schedule is TRAIN.LR_SCHEDULER)
_C.TRAIN.LR_SCHEDULER = "poly"  # new: learning-rate schedule by name (core.lr_schedule)
_C.TRAIN.LR = 0.01  # base learning rate of the schedule
_C.TRAIN.EXTRA_LR = 0.001  # base learning rate of the extra phase
_C.TRAIN.OPTIMIZER = "sgd"  # sgd, adam or adamw
_C.TRAIN.MOMENTUM = 0.9  # SGD momentum
_C.TRAIN.WD = 0.0001  # weight decay
_C.TRAIN.NESTEROV = False  # Nesterov momentum
_C.TRAIN.IGNORE_LABEL = -1  # label value ignored by the loss and the metrics
_C.TRAIN.BEGIN_EPOCH = 0  # kept for old YAMLs (resume decides the first epoch)
_C.TRAIN.END_EPOCH = 484  # number of epochs of the main phase
_C.TRAIN.EXTRA_EPOCH = 0  # number of epochs of the extra phase on EXTRA_TRAIN_SET
_C.TRAIN.RESUME = False  # resume from checkpoint.pth.tar (same as AUTO_RESUME)
_C.TRAIN.BATCH_SIZE_PER_GPU = 32  # batch size of each training process
_C.TRAIN.SHUFFLE = True  # shuffle the training list
_C.TRAIN.NUM_SAMPLES = 0  # use only the first N training samples (0 = all)
_C.TRAIN.AMP = False  # new: mixed precision; False = float32 as the original (new YAMLs: True)
_C.TRAIN.AMP_DTYPE = (
    ""  # new: '' = fp16 + grad scaler on CUDA, bf16 on CPUs that have it; bf16, fp16
)
_C.TRAIN.CHANNELS_LAST = True  # new: model and batches in channels_last memory format
_C.TRAIN.COMPILE = False  # new: torch.compile the training model (first steps compile)
_C.TRAIN.GRAD_CHECKPOINT = False  # new: recompute stage activations in backward: less memory
_C.TRAIN.CLIP_GRAD = 0.0  # new: clip the gradient norm to this value (0 = off)
_C.TRAIN.CHECKPOINT_EVERY = 0  # new: also write checkpoint.pth.tar every N iterations (0 = off)
_C.TRAIN.EVAL_EVERY = 1  # new: validate every N epochs (and after the last one)
_C.TRAIN.EPOCH_SNAPSHOTS = 0  # new: also write <epoch>.pth (0-based, as the panorama fork) after
# each epoch, keeping the last N (0 = none, -1 = all, as the fork)

_C.TEST = CN()
_C.TEST.IMAGE_SIZE = [2048, 1024]  # sliding-window crop, width x height
_C.TEST.BASE_SIZE = 2048  # long side at scale 1.0
_C.TEST.BATCH_SIZE_PER_GPU = 32  # validation batch size of each process
_C.TEST.NUM_SAMPLES = 0  # use only the first N validation samples (0 = all)
_C.TEST.MODEL_FILE = ""  # weights to test (default: OUTPUT_DIR/.../final_state.pth)
_C.TEST.FLIP_TEST = False  # average with the horizontally flipped prediction
_C.TEST.MULTI_SCALE = False  # kept for old YAMLs; multi-scale is TEST.SCALE_LIST
_C.TEST.VAL_PREPARATION = "original"  # new: validation items during training: "original" (each
# dataset's: LIP / PASCAL-Context squashed to the crop, ADE20K / COCO-Stuff a random crop of the
# short-side-resized image, the others whole) or "whole" (every image whole, in windows if larger)
_C.TEST.SCALE_LIST = [1]  # test scales, e.g. 0.5,0.75,1.0
_C.TEST.CENTER_CROP_TEST = False  # resize the long side to BASE_SIZE and centre-crop
_C.TEST.OUTPUT_INDEX = -1  # which model output is the prediction (OCR: -1 = main)
_C.TEST.RESIZE = "keep"  # new: evaluation resize, keep (aspect kept) or squash (deploy zoo)
_C.TEST.POLICY = ""  # new: base, cityscapes or sliding; "" = the dataset's own (README Testing)

_C.DEBUG = CN()
_C.DEBUG.DEBUG = False  # kept for old YAMLs (unused)
_C.DEBUG.SAVE_BATCH_IMAGES_GT = False  # kept for old YAMLs (unused)
_C.DEBUG.SAVE_BATCH_IMAGES_PRED = False  # kept for old YAMLs (unused)
_C.DEBUG.SAVE_HEATMAPS_GT = False  # kept for old YAMLs (unused)
_C.DEBUG.SAVE_HEATMAPS_PRED = False  # kept for old YAMLs (unused)


# Keys kept only so old YAMLs load: setting one does nothing, which is said when it is set.
UNUSED = {
    "GPUS": "the number of processes comes from torchrun (--nproc_per_node)",
    "RANK": "the rank comes from torchrun (the RANK environment variable)",
    "TRAIN.LR_STEP": "the learning rate follows the poly schedule",
    "TRAIN.LR_FACTOR": "the learning rate follows the poly schedule",
    "TRAIN.BEGIN_EPOCH": "the first epoch comes from the checkpoint (AUTO_RESUME)",
    "TRAIN.FREEZE_LAYERS": "the original code never read it",
    "TRAIN.FREEZE_EPOCHS": "the original code never read it",
    "LOSS.CLASS_BALANCE": "class weights come from DATASET.CLASS_WEIGHTS or the dataset",
    "TEST.MULTI_SCALE": "the test scales are TEST.SCALE_LIST",
    "DEBUG.DEBUG": "the original code never read it",
    "DEBUG.SAVE_BATCH_IMAGES_GT": "the original code never read it",
    "DEBUG.SAVE_BATCH_IMAGES_PRED": "the original code never read it",
    "DEBUG.SAVE_HEATMAPS_GT": "the original code never read it",
    "DEBUG.SAVE_HEATMAPS_PRED": "the original code never read it",
}

# Keys of old YAMLs that no longer exist: accepted from a YAML or the command line and dropped.
RETIRED = {
    "MODEL.NUM_OUTPUTS": "the outputs are what the model returns (LOSS.BALANCE_WEIGHTS, one each)",
}


def get_defaults():
    """A fresh, mutable copy of the defaults."""
    return _C.clone()
