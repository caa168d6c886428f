"""Sargolini et al. 2006: 61 real rat trajectories and one grid cell's spikes.

Folder ``weber_sargolini_trajectories_gridcell/`` (from the eLife code of Weber & Sprekeler 2018,
elifesciences-publications/spatial_patterns @ 3ba83428):

- ``trajectories/sargolini_{x,y}_pos_<N>.npy`` (N = 0-60): ~30,000 samples at 50 Hz each,
  normalised to [−0.5, 0.5] in a 1 m box (so the unit is metres with the box centred at 0).
- ``gridcell_11016-31010502_T6C3/spikepositions.npy`` (n_spikes, 2) in cm, [−50, 50];
  ``spiketimes.npy`` (n_spikes,) in s. That cell's own full trajectory is not included.

Trajectories are returned as DataArrays with dims ``('time', 'space')``: ``time`` in seconds
(sample index / 50 Hz), ``space`` = ('x', 'y').
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_npy

__all__ = ["FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "N_TRAJECTORIES", "SAMPLE_RATE",
           "load_trajectory", "load_trajectories", "load_gridcell", "load"]

FOLDER = "weber_sargolini_trajectories_gridcell"
DESCRIPTION = "61 rat open-field trajectories (50 Hz, 1 m box) and one grid cell's spikes (Sargolini 2006)"
URL = "https://github.com/elifesciences-publications/spatial_patterns/tree/3ba83428"
DOWNLOAD_BASE = None
CITATION = (
    "Sargolini F, Fyhn M, Hafting T, McNaughton BL, Witter MP, Moser M-B, Moser EI (2006). "
    "Conjunctive representation of position, direction, and velocity in entorhinal cortex. "
    "Science 312(5774):758-762. doi:10.1126/science.1125572. Trajectories as prepared by Weber S, "
    "Sprekeler H (2018), eLife 7:e34560."
)
FILES = {
    "gridcell_11016-31010502_T6C3/spikepositions.npy": "61be6b4f11243021005f3fb726de6a12a51c73bf117c97332539f4e87e07914c",
    "gridcell_11016-31010502_T6C3/spiketimes.npy": "3acf079ff77d0242071f85461d91d4f0f8983f3fd3c80668f1f5f07723a06c69",
    "trajectories/sargolini_x_pos_0.npy": "8e1c1a9e447fdfebb8ea77083c215b6b70cd43cc6c0919be94848b76e7e19650",
    "trajectories/sargolini_x_pos_1.npy": "639244adb085e925e6f6b8dae895d3a9f700a9f1d847245f6cba2688b37266df",
    "trajectories/sargolini_x_pos_10.npy": "325ab3fefca3acc165f486a21c00187db108e468e07baed63c15f8569b61dc11",
    "trajectories/sargolini_x_pos_11.npy": "b225d3f7ce5750797b82ee5102e93ba8f61e98c4d95f75f00367c5dd4619fe50",
    "trajectories/sargolini_x_pos_12.npy": "2f0352b9d6372acd01c9e68a8d84718d28e670b0626d0a0c1ea33f991f453167",
    "trajectories/sargolini_x_pos_13.npy": "ad027a510d57109779088c402e713d608711e9742707e648fe3ab8c9940f9b00",
    "trajectories/sargolini_x_pos_14.npy": "30789ed8fab996c50819b209fc6484182da260c9ede9abd8bc0556c1433fc725",
    "trajectories/sargolini_x_pos_15.npy": "3dc8fbdd464e7ad94897ce4d3da498b57b89b95925c948687ca4afc0cef83f70",
    "trajectories/sargolini_x_pos_16.npy": "2c1ca66f909bd7d7b20087c1be69a89770c92198723f1643bac886c4d88b7347",
    "trajectories/sargolini_x_pos_17.npy": "1f2da068ff3cbf96acb5f7b84698cde0f5d7a3a42d880d19d79a6fa25ec00037",
    "trajectories/sargolini_x_pos_18.npy": "55da681b1e675db3ef84c6d438ee5722cc5b4d944998f3f1220c71adf59557d7",
    "trajectories/sargolini_x_pos_19.npy": "4dc730372d8125768ce519f28d5ad475c4eceb60dcc11cc915ace87d28463369",
    "trajectories/sargolini_x_pos_2.npy": "838f552c79e2cad4a9dcdd158e70a9e709ac2dd1cf6a1cc6e9ae481589e063d5",
    "trajectories/sargolini_x_pos_20.npy": "2d22ee85ef8dad844766a26241e294a46cc391472cca18ad4da884c77756297d",
    "trajectories/sargolini_x_pos_21.npy": "bdf43149fc1d493aaa9039070b3d7db617a04c0cf1b0b12dadb52c72b73114bd",
    "trajectories/sargolini_x_pos_22.npy": "fa523c22aa30b6272e5e7bb1910e84416931fff4cf1c75e573ada077e46cc4f5",
    "trajectories/sargolini_x_pos_23.npy": "427b28c9707302e883cfd03fbea47e360b46c9807a76f624031bfb7de751fa1b",
    "trajectories/sargolini_x_pos_24.npy": "a7f367f7e6d89f3402e8dd2e45ffdb092eaa4b19762d2b741ff67d63ee116edb",
    "trajectories/sargolini_x_pos_25.npy": "19bf2e054be40d672c150ded06d9ea2c08c1eda1d9c376aac5b2674941c2eb64",
    "trajectories/sargolini_x_pos_26.npy": "850474aa95bab5a3e48e53aa2a6797c5dea5219b5e4cf266a78a0a6276be84e7",
    "trajectories/sargolini_x_pos_27.npy": "a52be4ca2d3716ae2846d9f90abb341292e7ce8788a0c2d15566c66e2e895f8a",
    "trajectories/sargolini_x_pos_28.npy": "0c299cb58ecd8b74fd163058d37453284a543be459b3564fb4809b971b34d411",
    "trajectories/sargolini_x_pos_29.npy": "f6d4e082f994e421aa0ff2189b59edf194d0af00b690a3c5a8ce40abc288ca08",
    "trajectories/sargolini_x_pos_3.npy": "e105e410474aafbf7eebdd87270c75352b96ddc8eb71367d66fa26db85075ad9",
    "trajectories/sargolini_x_pos_30.npy": "d39dfb0fd6231b2137509c0046502d4dfbbbd7b1e742ddda06b6ee733da17606",
    "trajectories/sargolini_x_pos_31.npy": "050d3d4a30433b3093c02bd188938a61e776e4e0939d67ca461d13caa0882e75",
    "trajectories/sargolini_x_pos_32.npy": "503be92ca9b046f3d62bd17a31addb9b0c43f8ca105acf0779e4403dafbda71b",
    "trajectories/sargolini_x_pos_33.npy": "182e02bab26330042eaabd957eef75149e28d0ef05c31db3107eea1395fedb99",
    "trajectories/sargolini_x_pos_34.npy": "7f131d5c27cd99789a7657a323b51305479dd6aee7f16de8d444608708a22d7a",
    "trajectories/sargolini_x_pos_35.npy": "c827a15b6a463d65ef0480c07f4e77f9dbc4c62c54460f2b948f89b76797be36",
    "trajectories/sargolini_x_pos_36.npy": "5612f6c32b31dc79655562213ab0c0f65d53301576696c5d4ecfbb8729f857d6",
    "trajectories/sargolini_x_pos_37.npy": "631563405f18bdef26e679fb7b5f102ea355f1ecde4cf202796694631a737406",
    "trajectories/sargolini_x_pos_38.npy": "ce6e3882ef128a0cb6a59de26e8f3a5085a2f5365757650e96e2d16e18c8c184",
    "trajectories/sargolini_x_pos_39.npy": "e7784c3a0218e2da5a24835b37b1f532eac25e3b9a9b1cd88a8858726f17450e",
    "trajectories/sargolini_x_pos_4.npy": "13f2fbcab6b70efcfce704efecf838fe23da17e0f86dc868d0f9edae8809a9c7",
    "trajectories/sargolini_x_pos_40.npy": "f30f5d4c1e464b0e913fb155685ec1fb447e26366dd492ad69c53d74eb861638",
    "trajectories/sargolini_x_pos_41.npy": "8f8a8edcdaa463553c5f25a61c71de9b04456bcef79e0b6cc9c5e315cccba955",
    "trajectories/sargolini_x_pos_42.npy": "5bc5ec97199e7926dcbc16e7de800cb0e7085f303fd3b3c2b84c27dda717a43b",
    "trajectories/sargolini_x_pos_43.npy": "b647d4847d01660110b75c997a431bf2a11f61542793d947c92132eabf4142b1",
    "trajectories/sargolini_x_pos_44.npy": "eb06c36daf97d038ff7c41ef4be64712decff572b2a9fd835c846eab75860bdc",
    "trajectories/sargolini_x_pos_45.npy": "061900fbc0f18fc1ba7cbddb6195c9df0d4dc08a88c459adf3298d3aae408fd0",
    "trajectories/sargolini_x_pos_46.npy": "d82647233b3b8b19b2da92cb2f4002bc0452cd9c152954b522dc69dbc25a2d9f",
    "trajectories/sargolini_x_pos_47.npy": "6ebc1ace9e450e74adf45246a572c959354438c4dc55240412773faa9669cc9f",
    "trajectories/sargolini_x_pos_48.npy": "72a866d53c3b571f0ec00fdf86af2dc9ac30c567c2967c9f1f0a80fa9a523395",
    "trajectories/sargolini_x_pos_49.npy": "6d97ec0f6ed7d4f6bae07ab00c8b51b7cf331a49453dc836e31a70af007f82ed",
    "trajectories/sargolini_x_pos_5.npy": "209980805a047cae8bede95969d2556bd4f0844025410cc4aaaff0004ce91a98",
    "trajectories/sargolini_x_pos_50.npy": "bdd5c16fb8046b46638fe656a6f23362f7763b43457d4191ba3f0034969c2c22",
    "trajectories/sargolini_x_pos_51.npy": "44052cd1ab038a4ced2ac53a0d85a8fa39af5b508f36b20f8229dccc4d258a70",
    "trajectories/sargolini_x_pos_52.npy": "0607264cc8f27cc6834f747cac8ab63e15edbbaca1a8adcff0fff4cfe9360ffa",
    "trajectories/sargolini_x_pos_53.npy": "afeeb4327701cc35ea96fe893fe2e815b3d15cbe53978416dba484ac60ff78ce",
    "trajectories/sargolini_x_pos_54.npy": "6acb22e2436ef9bed52bc0a2311a7bb9df3162e6b5db58de32606246b60dd056",
    "trajectories/sargolini_x_pos_55.npy": "203b31adfbc35696e15016ba1415db767ce359397467431dae140d521ecaa25e",
    "trajectories/sargolini_x_pos_56.npy": "5645bec78d4b33e3e404d0419501a140f20f71433ae491ed097967fd8c8532da",
    "trajectories/sargolini_x_pos_57.npy": "9ffe76e6dbb8b1ced602ef55cb27be64b42980eaaffbdfb222714645f45aec91",
    "trajectories/sargolini_x_pos_58.npy": "157755a187e9e51b245aa26ae412deadd08931bfdf5af6527255e0ad30c590c5",
    "trajectories/sargolini_x_pos_59.npy": "924959fba42f721f1f29afa51b1ac8cef7610e128605a58079562b653e93ca70",
    "trajectories/sargolini_x_pos_6.npy": "211abf400f1140dd804eafd99441d5bbef076717a78ba116d48f7a5e4f4c623d",
    "trajectories/sargolini_x_pos_60.npy": "ec60768200cdf5b1f934bf47ba451b60071347909db2c0f9023807a8ba66bbbe",
    "trajectories/sargolini_x_pos_7.npy": "41f5a34f4e50d362fd6e5f87f57d3bd12523a92dff1686f1865fdddb8b6735df",
    "trajectories/sargolini_x_pos_8.npy": "159d2b1e15e41cc53475b4557b1c8070c15f25610a0e50af7cb0e6abc9ac33ba",
    "trajectories/sargolini_x_pos_9.npy": "78b0578e8b52b5b1b7bd72e3781318e3cea475735dfeb30bd5db890e8f18c0da",
    "trajectories/sargolini_y_pos_0.npy": "9e9b64f47dfbb3ff7cfba519099b6b98f89462821573f05d3ca6a87f072f495e",
    "trajectories/sargolini_y_pos_1.npy": "aae7f12ea5cfe86a3cc35f4b4a6b63f7f57e4c844b4908f621e9872cc4646cbe",
    "trajectories/sargolini_y_pos_10.npy": "569c97601c274bfbf3d86bf70109dc408fb7ba3709e6887d4734d2db19dfca73",
    "trajectories/sargolini_y_pos_11.npy": "4b8c32b7ccfd4484c91b0f6bbe433f198e131b05d4bc5b3b136fbf1aa3bf2a46",
    "trajectories/sargolini_y_pos_12.npy": "72eabd6ead530a503ba5317c19f99d9519d15ae36d061c591fa0d942638523d7",
    "trajectories/sargolini_y_pos_13.npy": "67d622a623e132801d1ab9126a08e7f76b75c6b52df2746ea4144d4e83c2d102",
    "trajectories/sargolini_y_pos_14.npy": "98b7cc6527064f0ac463ea81dadafa36d78fd64303efb9d997586fe0cdaf56cb",
    "trajectories/sargolini_y_pos_15.npy": "e2cc8875c2873f4aeae243c83961c08a7581058c7c25b43817c9fb2f83f18669",
    "trajectories/sargolini_y_pos_16.npy": "790eb7b4e9b867920d961c3a0438f0b7ea776a6b24bb16c28c01d9fd4949edaa",
    "trajectories/sargolini_y_pos_17.npy": "5630a41efad6103c106bc37daa555d894c28cb0970cbd64a71a24763d6188b37",
    "trajectories/sargolini_y_pos_18.npy": "2a669ff1113cdabdc412f4c8aa04be4be6946efd3c70a354dc5e681758268242",
    "trajectories/sargolini_y_pos_19.npy": "10db89fce1e5e621727a259d7b0d4500b2b10201a4ee857fac450712ee9d5420",
    "trajectories/sargolini_y_pos_2.npy": "69b5c44b47e911ae8c4c4283d3a0280a65f85e680c2bcf49b35711717775d119",
    "trajectories/sargolini_y_pos_20.npy": "9ad8a955cb2d6c1c0d082f29fc3acb279e105892f6c622f994d2f4cfbbcaa196",
    "trajectories/sargolini_y_pos_21.npy": "6142c0fbc4fc3135701a66bee7319d7279b3b4eccc0d09d3d16987d4a873400f",
    "trajectories/sargolini_y_pos_22.npy": "8be957ade24e5a35d88bb16fd89a412a86f339a8c8340529bfe7ff3edf17986a",
    "trajectories/sargolini_y_pos_23.npy": "77bbd11b15cf390efbf0f8eadab02aba646026cf9fc424c23b8ff96d2ef42286",
    "trajectories/sargolini_y_pos_24.npy": "903e48d517cbde7ad54d2fe40be1c8ffdb81adee8ef036e6a2cc3f8a70a2c001",
    "trajectories/sargolini_y_pos_25.npy": "cfd2b40f74ffaae436bc8ec7144bcfb0bee4849489967e05bb5930dddfa41545",
    "trajectories/sargolini_y_pos_26.npy": "858ca4137ba7487fb8ea03c76b0935fe61ab5d4800fb78d49882fb95aa8cf078",
    "trajectories/sargolini_y_pos_27.npy": "11a626c7ad22a11cb83f4d91b64267cec2ebf95c756b1cf24797e97652211a1a",
    "trajectories/sargolini_y_pos_28.npy": "8f2a167a14641bd87520b560d38a4afc90a4114216deda802e99d41f2f91d675",
    "trajectories/sargolini_y_pos_29.npy": "5f356711ff1f25b37d390514a5dda0b6db88f8e6baa0db1b8a23e76c11bca6bb",
    "trajectories/sargolini_y_pos_3.npy": "fd56bf5cf48cdd1229f32e749de5bf169d102fbd587103fa1bb1c3468542c8b9",
    "trajectories/sargolini_y_pos_30.npy": "0b782637afcd27d4a059e5fa9eb94e7d9c56c274444aafbcf5d70048e6accc3c",
    "trajectories/sargolini_y_pos_31.npy": "d2e2d90c771293d4ddb436bd7f14b44ea06c26d2cd8ed5f2505911f8398f8c28",
    "trajectories/sargolini_y_pos_32.npy": "43b4fb122fa57fd1f07b0236b66640ff59aaaf30efb673a530303bb2224d01cc",
    "trajectories/sargolini_y_pos_33.npy": "b4deea0b41b2ac619f092e46dc4f3c119c3a5921aae8cbefd4e9defd2da993ae",
    "trajectories/sargolini_y_pos_34.npy": "0cc43a1dc7292790f155a2fbca153f17abb4393de015d5188dec7f8a8183c031",
    "trajectories/sargolini_y_pos_35.npy": "5b9fc370136885892812cd3370bded4bc85d42ada276d3e9d361e37329e58d3b",
    "trajectories/sargolini_y_pos_36.npy": "5d5d5f41e1eb9e89b501e5bbcec0ee99177cc18bac3d8a36c2747ece2dea1c8d",
    "trajectories/sargolini_y_pos_37.npy": "045dfb57325385215d213bb7fba008fe28da4d1451b908291b3f46976c8e48bd",
    "trajectories/sargolini_y_pos_38.npy": "bdaff7e1908232b8fcb1edb3767af251d3aee5b258e506949c03c3739411dd8e",
    "trajectories/sargolini_y_pos_39.npy": "86051964472a2f02d6cafb7a6e38030e910db4ddc996b616a91f583f4de01778",
    "trajectories/sargolini_y_pos_4.npy": "5910c09dd3fb2ad777894f444cb3058c2b577218b2e989b1de929441a3977bf2",
    "trajectories/sargolini_y_pos_40.npy": "6a1f440f008d2151970b56b489483f48df584b1ac9897cc8fb3ff8eb2c790f41",
    "trajectories/sargolini_y_pos_41.npy": "c499cd9359d0152bdf15a2f1bee615d33c4c784507b2785edc85c9df3a55b1ff",
    "trajectories/sargolini_y_pos_42.npy": "627131ac32198016f1037fe806e71520970eca335cb902c823297c57e4693c21",
    "trajectories/sargolini_y_pos_43.npy": "a54372adbfa4b9e71d485abb13cf148dba5b2eb45801f499009714fa68e7603c",
    "trajectories/sargolini_y_pos_44.npy": "54c5cab12030321347d28d3fb0cae90d061d3975cb054512afe80c66594f5e47",
    "trajectories/sargolini_y_pos_45.npy": "e4c6cc398e73a7063a0ad4c4d40fc4798d7dc405249d24ae1b3a3c2619d0ca26",
    "trajectories/sargolini_y_pos_46.npy": "4f628ac793187f1d2adf88e30087b38ede4af4884058ff1068bffbeb512a186e",
    "trajectories/sargolini_y_pos_47.npy": "e54cd87fe72c0212a77e98a9fb44d650808906554bf06d5dfd5f8863ed3b6a44",
    "trajectories/sargolini_y_pos_48.npy": "fa31e6e486e288383d9078b79c17e24b5a3d565870841d2439e041b39c2c35dc",
    "trajectories/sargolini_y_pos_49.npy": "1c66dc23a8b16c5d96c9ed5d963a5cd288cc1e16ce30916b18dcba830332a0c6",
    "trajectories/sargolini_y_pos_5.npy": "c1015a4b88f2d645cb83d2ca12c885a6d80339ef86bebec0b4ed21cba4a79c9e",
    "trajectories/sargolini_y_pos_50.npy": "fb782e63cc33fd94707134b2f6e3abf95a0f42ad6f484966f5e2af77e7b3d322",
    "trajectories/sargolini_y_pos_51.npy": "bdf0a2fc1225adf69445f058ff0bec21e835a391a2dc2028c7830729140fb682",
    "trajectories/sargolini_y_pos_52.npy": "4e3a8468ccf95b48c84f608ab2004d63d73e54ea63276e9d0691c6cc713a63ee",
    "trajectories/sargolini_y_pos_53.npy": "cc2e7e072301ac1694ad67b2dc7811c00da42a67f9b98116d2dac98206ff3a87",
    "trajectories/sargolini_y_pos_54.npy": "2a92c51920ee2d899764fd6cfdc99250a7339d3ad6321b1e547ed909f939b8a7",
    "trajectories/sargolini_y_pos_55.npy": "2227197580d2927b43ca3877ba1f8ad50b8fed30e1e1b2b082b094c50dd293d0",
    "trajectories/sargolini_y_pos_56.npy": "52f8e81eea96839d087b3eea97ff4d65b3349207a15d2e670dfbae703ea60d9a",
    "trajectories/sargolini_y_pos_57.npy": "3ce76e97c1ad9f5a5c09c7b7858d09d60cb5b2137d17a1edb3cca3c0d30fde39",
    "trajectories/sargolini_y_pos_58.npy": "4bddd0fffe20af5e9fb21f85676e0274494ff2dbc0ad5ddfcf422d96eefcae3f",
    "trajectories/sargolini_y_pos_59.npy": "dd16282fa8665587d891735a79fb3032c5597cfefdc8905f7554e7eb0bafba57",
    "trajectories/sargolini_y_pos_6.npy": "c7586242fb845e196dac7d8707ab0365d6317d6ea503f3b2170b3d0f0a12790c",
    "trajectories/sargolini_y_pos_60.npy": "fa11f51b32675bc1cc1d22dd1f92d498910d97a5e0bbc6d5cbcf624dbd14d6ba",
    "trajectories/sargolini_y_pos_7.npy": "755f0e08439f87e90d68b020ce0cf4db9caae5cb66e0864270e5714bbf5f642f",
    "trajectories/sargolini_y_pos_8.npy": "350b135688b0fe2cb865f4f701a108234f5209737c4141f53cc6a22e5d67dcbd",
    "trajectories/sargolini_y_pos_9.npy": "7ed34ce7fcdab82ec9c7578e8a2a9475875695e6d23a0a216e105e7a34f9e470",
}

_THIS = sys.modules[__name__]
N_TRAJECTORIES = 61
SAMPLE_RATE = 50.0
CELL = "11016-31010502_T6C3"


@file_cache(maxsize=128)
def _npy_cached(path: str, size: int, mtime_ns: int) -> np.ndarray:
    arr = np.asarray(read_npy(path), dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _npy(rel: str, root) -> np.ndarray:
    path = fetch(_THIS, rel, root)
    return _npy_cached(str(path), *stamp(path))


def load_trajectory(index: int, root: str | os.PathLike | None = None) -> xr.DataArray:
    """One trajectory.

    Parameters
    ----------
    index : int
        0 to 60.
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    xarray.DataArray, dims ('time', 'space'), shape (~30000, 2), float64, metres in [−0.5, 0.5]
    """
    index = int(index)
    if not 0 <= index < N_TRAJECTORIES:
        raise ValueError(f"index must be in [0, {N_TRAJECTORIES - 1}]; got {index}.")
    x = _npy(f"trajectories/sargolini_x_pos_{index}.npy", root)
    y = _npy(f"trajectories/sargolini_y_pos_{index}.npy", root)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"Trajectory {index}: x has shape {x.shape}, y {y.shape}; expected equal 1-D arrays.")
    return xr.DataArray(
        np.stack([x, y], axis=1),
        dims=("time", "space"),
        coords={"time": np.arange(x.size) / SAMPLE_RATE, "space": ["x", "y"]},
        attrs={"units": "m", "box_size_m": 1.0, "sample_rate": SAMPLE_RATE, "trajectory": index,
               "source": "sargolini2006", "citation": CITATION},
    )


def load_trajectories(root: str | os.PathLike | None = None, indices: Sequence[int] | None = None) -> list[xr.DataArray]:
    """Several trajectories (default all 61); lengths differ slightly (29,804 to 30,003 samples).

    Returns
    -------
    list of xarray.DataArray, each with dims ('time', 'space')
    """
    indices = range(N_TRAJECTORIES) if indices is None else indices
    return [load_trajectory(i, root) for i in indices]


def load_gridcell(root: str | os.PathLike | None = None) -> xr.Dataset:
    """The grid cell 11016-31010502_T6C3: each spike's time and position.

    Returns
    -------
    xarray.Dataset with dim ``spike`` (1223) and variables ``time`` (s), ``x``, ``y`` (cm, box
        centred at 0, [−50, 50]).
    """
    pos = _npy(f"gridcell_{CELL}/spikepositions.npy", root)
    t = _npy(f"gridcell_{CELL}/spiketimes.npy", root)
    if pos.ndim != 2 or pos.shape[1] != 2 or pos.shape[0] != t.shape[0]:
        raise ValueError(f"Spike positions {pos.shape} and times {t.shape} do not match; expected (n, 2) and (n,).")
    return xr.Dataset(
        {"time": ("spike", t.copy()), "x": ("spike", pos[:, 0].copy()), "y": ("spike", pos[:, 1].copy())},
        attrs={"cell": CELL, "position_units": "cm", "source": "sargolini2006", "citation": CITATION},
    )


def load(root: str | os.PathLike | None = None) -> tuple[list[xr.DataArray], xr.Dataset]:
    """``(load_trajectories(root), load_gridcell(root))``."""
    return load_trajectories(root), load_gridcell(root)
