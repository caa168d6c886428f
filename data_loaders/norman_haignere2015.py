"""Norman-Haignere, Kanwisher & McDermott 2015: auditory-cortex components for 165 natural sounds.

Folder ``natsound165_nh2015/``:

- ``components.mat``: ``R`` (165 sounds × 6 components) response profiles, ``W`` (6 × 11065)
  voxel weights, ``component_names`` (lowfreq, highfreq, envsounds, pitch, speech, music),
  ``stim_names``, ``category_labels`` (11 categories) and ``categories``.
- ``sounds/wav/<stim name>.wav``: the 165 sounds, 2 s, 44.1 kHz, mono int16.
- ``sounds/category_labels.csv``: ``stim name,category``.

``stimulus_id`` is the stimulus name (e.g. ``'stim28_big_band_music'``), shared by the component
Responses and the sounds. The components play the role of "units": ``unit_id`` = component name.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Sequence

import numpy as np
import xarray as xr

from data_loaders._fetch import fetch, file_cache, stamp
from data_loaders.readers import read_mat
from neurocompare.data import make_responses

__all__ = [
    "FOLDER", "FILES", "URL", "CITATION", "DESCRIPTION", "COMPONENTS",
    "load", "load_components", "load_sounds", "load_stimuli", "load_voxel_weights", "load_categories",
]

FOLDER = "natsound165_nh2015"
DESCRIPTION = "6 auditory-cortex fMRI components x 165 natural sounds, with the sounds (2 s WAVs)"
URL = "https://github.com/snormanhaignere/natsound165-neuron2015/tree/b41b99ff"
DOWNLOAD_BASE = None  # the files sit under several folders of the original repository
CITATION = (
    "Norman-Haignere S, Kanwisher NG, McDermott JH (2015). Distinct cortical pathways for music "
    "and speech revealed by hypothesis-free voxel decomposition. Neuron 88(6):1281-1296. "
    "doi:10.1016/j.neuron.2015.11.035"
)
COMPONENTS = ("lowfreq", "highfreq", "envsounds", "pitch", "speech", "music")
FILES = {
    "components.mat": "a34f9a4c648de56d075f249a0f09f67281cde024d0ca184347436e540ab0a66e",
    "sounds/category_labels.csv": "747c213ec40ede8ccac7af2ba2d0ecc9d6dfbccbe5befeb6888beb5201b35fbc",
    "sounds/category_labels.mat": "9093815dd6a6dc84b896742f1215891ecf3e43b620ea97a56042b4f831554585",
    "sounds/wav/stim102_crumpling_paper.wav": "f4b3119e82383b643a45cade5ca8edce015772c306898ba60674bacae8260ed6",
    "sounds/wav/stim103_crying.wav": "95236af0e6594bf1db05de2a8705816c468abe8a9a0f61a2f38e3f6547edc544",
    "sounds/wav/stim105_cutting_with_scissors.wav": "8543ad15fe9ff25369897b40bf038ee9d3f576654e846fbf9af5e460473f6b84",
    "sounds/wav/stim107_dial_tone.wav": "92c259694952c5928f0b01feb524b85ac96e45873d633bf7c5b4f032cda5d96d",
    "sounds/wav/stim108_telephone_dialing.wav": "699d8d6957291848e70cbaadd35a44ea58e6001f7032649719a994a754ff2cd8",
    "sounds/wav/stim114_dishes_clanking.wav": "986d04bdae6c8818ac35ae62baf1bc6cd980eff68c85f3f61f40d84a92df7959",
    "sounds/wav/stim116_dog_barking.wav": "73fbd5ad1ad195c30956095928a5a60f010329aa8db4f126179941a0ffb97250",
    "sounds/wav/stim117_dog_drinking.wav": "5f374356fd29f22446a1c3e1fc36cd80b27f22aa6793c4fefc05197dbde9000b",
    "sounds/wav/stim118_puppy_whining.wav": "1c536853b15427f4b22cdad6ae90a627081bfe79f571f256be467aada88d841c",
    "sounds/wav/stim11_baby_crying.wav": "599589e2385ef87095dbf433962322bc1b0d4055d35da02efd083f453b4bb64a",
    "sounds/wav/stim124_doorbell.wav": "79f3e0ad2fbf2c30f2685bca97b35b96ac7d4ed33919bdf8a034fd6d8a71714d",
    "sounds/wav/stim12_background_speech.wav": "5d23491e6f13725fe3c6bfdd068e7d4546457abe88d184a63ef61b43cfbf5f59",
    "sounds/wav/stim132_water_dripping.wav": "8d388e2d7f0c7347a0747543851403a7d5742639d827f5e36295e1fb7b7a7a70",
    "sounds/wav/stim136_drum_roll.wav": "cf4f3921d889b9c9e6d49a5530637ca30c6774fd275ae699ca4ad36986f45c12",
    "sounds/wav/stim137_drum_solo.wav": "eb1f6dba0cdc82edb0ad27ddf90703402c6b9397689a9884bd6d6360aa6e095f",
    "sounds/wav/stim138_duck_quack.wav": "218303db9ec0712789352fe587bd7c8fb95291e5495b78828a82c26e9bfbc0c6",
    "sounds/wav/stim140_electric_hand_drill.wav": "20b4d21e7dd2b73ae6836173f26aeabcca4ce3dda1d8e76ce63da28ae9b59438",
    "sounds/wav/stim150_finger_tapping.wav": "20e3cfd8cd79ed281ff4482960d1f65bf631f60aaaa109858589bd563175136b",
    "sounds/wav/stim155_flag_flapping.wav": "b2fab783a17b66f8fb80a71da17b5d51cdccb61973cf0e3317aaa4f02697157c",
    "sounds/wav/stim156_wings_flapping.wav": "0d70f12cbb52dcb6ed2ee84595743527a8eae183e91445d8ab73cbd846fd97ef",
    "sounds/wav/stim158_flushing.wav": "227b1539081c8d8d7c40ca191c9897ac3503de85740d81a21a17a315ab63dd01",
    "sounds/wav/stim162_frog_croaking.wav": "835f4622dc0d03c1e7ed85efabbf6008fd2d626ef1667fac57dedc1051a558ba",
    "sounds/wav/stim163_frying.wav": "79729978a8712e00b0fb8bca2c8939c3f701b1e07e554a74d30f5bb8ecb4a4eb",
    "sounds/wav/stim167_gargling.wav": "dd7950f2503513139832ee3ec0e5d74b4487b8e6b3bff7ea8393cb075d3bbaae",
    "sounds/wav/stim172_geese.wav": "fa7591bda37025da74f58d471bb8c8822fff94200d27671b20eb9914efcd366a",
    "sounds/wav/stim174_girl_speaking.wav": "502ba08be8802d7c54f8af705ddadc0364b988fb88ea00e8e0f5862df56ce199",
    "sounds/wav/stim182_grunting_and_groaning.wav": "a3c17e478b6a63d67c4c45fe89a603433056e69611c7d4ba7bf81549fe855fb9",
    "sounds/wav/stim183_guitar.wav": "3860a42a75c00ea253000fb03b17899b8aba30e7923417ae751eccb7fa996b55",
    "sounds/wav/stim185_hair_dryer.wav": "c5b110d1383f46a667dfee362bd10998849a273b5142d1da28fd37d22504f326",
    "sounds/wav/stim186_hammering.wav": "9af9d4472b12401382a88276ea70dbcf31e0502a1179d2777d378d86ddce2a35",
    "sounds/wav/stim18_basketball_dribbling.wav": "7575d6993cb208daeb83e1b0591f2ce5f7740688acbc37d2f26397ff7b0ef5ba",
    "sounds/wav/stim193_heavy_metal_music.wav": "e2d7da87d7f37cdc4eea29a3591cf6fe325588db2c74a47987afb27afb4a0720",
    "sounds/wav/stim194_helicopter.wav": "c740964dc819d39a8076efcaafd00559198769ba30edb8a6c40b4aa18dbb48a1",
    "sounds/wav/stim197_road_traffic.wav": "7f6fbfff1604af64679857fc405e0b1b288d4917ee72f47bb9664eddb17cf2a6",
    "sounds/wav/stim19_electric_bass.wav": "2ef9f35da1c7160246d8a7d953d0b8635b3223ad2f4525f9ec1056970c9302ce",
    "sounds/wav/stim200_humming.wav": "05a2900c8c983514bd5669a9d33336134bbd325caef7bcdeaadcd0a90736095c",
    "sounds/wav/stim209_kettle_whistling.wav": "bcfe4115aa83277f23667efac077b64fc72586119afc119f4a18ecb2fe15475d",
    "sounds/wav/stim211_keys_jingling.wav": "61bf0f69786c44f9123ac17b42dbc30d45d44bad1c73a6fb544d2e8829ece061",
    "sounds/wav/stim215_door_knocking.wav": "08f022a42b92839257f96551a267248733846a4892164225cdc28d940fa87e91",
    "sounds/wav/stim221_laughing.wav": "7dbdca4eee37416e270cbe2173acba68a3526424900ba24891d8de381dbb4aeb",
    "sounds/wav/stim224_walking_on_leaves.wav": "3fc34e8fdaa5998404950e67b3cce4cf10f03566891c47fd2fd73a0719bd2d96",
    "sounds/wav/stim232_man_speaking.wav": "a26441b6c5c4f240726e8a008e8ee193bb74825fa86d0b8810abc3fff784188d",
    "sounds/wav/stim236_microwave_running.wav": "6c2918872d8e177b3fcf9269ad65c4cc3ac69940826f5b6309da5bf1232bbedf",
    "sounds/wav/stim238_baby_talk.wav": "dc48982d285a67ce682a17c31e5ad65d298d054385ed383fcc45690888cb72bc",
    "sounds/wav/stim23_bees_buzzing.wav": "73f367f5db50509ff10ca84b95f3301f1e3a6ac919501df1d039127e81e5eac7",
    "sounds/wav/stim240_motorcycle_reving.wav": "1a4a6f657c63f4bab0f84d9fa156b00a10c0886c783c97d6ef93cfdae2524ae2",
    "sounds/wav/stim246_newspaper_rustling.wav": "754c50c16c0b173e15ad52e1122c39897249c8b4b0ac31497a9ee90f8c8b74bf",
    "sounds/wav/stim254_orchestra_music.wav": "b00aeec48a2074380605263a2c682306c069e21c8199778f45f50b6d907144d6",
    "sounds/wav/stim25_bike_bell.wav": "ac0413e9b84e7cf4fee6b13aacf209e6ef9654d1a4e5be714b198d4ec093860b",
    "sounds/wav/stim268_piano.wav": "c147c04f5614b8f460d25a595b56cd7f8009bcef13ae798b1481f2e511e0569b",
    "sounds/wav/stim273_airplane_taking_off.wav": "27d04e33c0676e913879e705be58895d9990c92b7b69db3541d8d31f51946b12",
    "sounds/wav/stim276_pouring_liquid.wav": "519b4d3b1e3e6def45946d861522739e88b9bef036af523556e7e281a2ef3dcf",
    "sounds/wav/stim277_pouring_water_out_of_bottle.wav": "cc9b4754a95fde1be103bfffb318d1aefed13db611e581c89abb069da84fc3ad",
    "sounds/wav/stim279_printing.wav": "2339f6e5dd056c6dc88fa8fa111cde968cc6d5d5188fb71a1055a98539114671",
    "sounds/wav/stim283_contemporary_rb.wav": "c9f64046c3b9ea402678d842c68346fb96978693c16ffaeb805edbc9bbcae5df",
    "sounds/wav/stim285_radio_or_tv_static.wav": "0b26cd516d950939c61e7511b7f3c9f08c2d600bfd7cb8e77f79ba0d156d31e4",
    "sounds/wav/stim289_rap_song.wav": "19aeac568cd112837806260aa97089c675d8b88146f9bf7c8f03523c79f8e915",
    "sounds/wav/stim28_big_band_music.wav": "01d0b97a00bdf40a60870d27f6a67dfeab446bc499e1dcc95db220f8d3002168",
    "sounds/wav/stim292_crow.wav": "da7672b21c3df9a8a274e2aaefa14d04ead19d39158593a9f6dd7311bd59dac9",
    "sounds/wav/stim293_whistle.wav": "03c66d4ddeb41b1fa7f9c881a6219400770b63d5b0cb3880198136a83878b85c",
    "sounds/wav/stim296_rock_guitar_solo.wav": "6aa23ba7c2b7f2e651abef38fdbe1b34bd025b140ec3c50ed0314aaf2f47a277",
    "sounds/wav/stim298_contemporary_rock_song.wav": "838cde0b8830ec8c6e67fd4a5c792892598d232329921ad633562e0e97533f07",
    "sounds/wav/stim29_biting_and_chewing.wav": "ac9cb21a4688c02e29f004c46aa6008373e736f70471add810ccc2a7b66b4019",
    "sounds/wav/stim309_running_up_stairs.wav": "ed757d1630bfb7f4a059dea65886e0913cd72f7fc2f6210764df0e4a5cd94d6f",
    "sounds/wav/stim312_wind.wav": "55be13718ce9bc410951173a444bf0407a0958a91df02399d3865f4ad6a49e6d",
    "sounds/wav/stim315_saxophone_jazz_solo.wav": "ac578663b7781c381bfab172fc2fd99f7dc4f688d023a587aed21657f96ee07a",
    "sounds/wav/stim317_horror_film_sound_effects.wav": "7dc23e059f3455bcaaa9afcd500463dd31ae6bf62af2f5f7d78031765431d929",
    "sounds/wav/stim318_school_bell.wav": "751b5f666d0328118a7fb2560dc762e230a994d3c6fcdea37c55cf7ce07cbd5d",
    "sounds/wav/stim31_blender.wav": "43fa5072b4413a15694495b2bb7dd1933b43d449230d3f0ba7273ae905aeed96",
    "sounds/wav/stim320_scratching.wav": "1a9c819bfdc665c1dcf552050dfa9fa22c52460da91091cd3f652dcc9f5e3a75",
    "sounds/wav/stim321_scream.wav": "5db66b1a2583fb79c331fe1bea3fed8d1fff9e55ac42005a8bd7a399aa82134f",
    "sounds/wav/stim329_electric_shaver.wav": "0db0e14dcfee06af3142d2f031940ab6ff96dd09a8d8c8ac943415ba2403b3f0",
    "sounds/wav/stim332_angry_shouting.wav": "7bb4a5fa0221994bb93010c50beb77f80baaacf582691977f22c3a78cf0937b2",
    "sounds/wav/stim334_shuffling_cards.wav": "411e24e0c7c0857b76974ae31add804c7b620a118e3430ea3051c68c2017fc04",
    "sounds/wav/stim337_siren.wav": "51c8cb43becb4b7f3629e7eff005df5618cb957db7b341edb860e3bd6ce4ea83",
    "sounds/wav/stim33_bluegrass.wav": "1a18157179cac5083f3dce24433d9c3b1686c2c94ec4b02ff35b2ac261012ffa",
    "sounds/wav/stim347_songbird.wav": "b2e5ae1e3ffabbfc57b6eb957b32ff672bf0fe16aea231c3745fb241f0c5ab41",
    "sounds/wav/stim349_water_splashing.wav": "0f312e6acca613b159058509c2de9c64d2eea05312541ddcc12e382e5e0f5d7f",
    "sounds/wav/stim34_blues_band.wav": "47a624b458149141c213aac43bc13bc856c33f835d5c4ac5320f9b173eeab74b",
    "sounds/wav/stim352_spraying.wav": "998a3e60b15035c9d9aa4f3ba80b77b74af4f550015e1426d2934beade9a9b18",
    "sounds/wav/stim358_swimming.wav": "564a5b6a0908ca6a336788d83ee31dadff1176ac96fa6abe2949fed1ab008004",
    "sounds/wav/stim35_boiling_water.wav": "787754c2e7881a13132967728b34b176244c0adb728239d5870aea7bd0ac4fb0",
    "sounds/wav/stim360_cymbal_crash.wav": "082a42fe19f7c0ae04eb9abdb4708b4635a8a04a1f5b9e1a49525e739815cc8d",
    "sounds/wav/stim364_tearing.wav": "aa7913e228be8f162ef299a51a3ce24b286cd5f3e17c73856ae5c0593f6a5434",
    "sounds/wav/stim365_techno.wav": "4b65f7698f92e5e549663bad139b448208857042bc9714a4dda1489d88e65c40",
    "sounds/wav/stim366_telephone_ringing.wav": "900873403462a1943a6d4ee0060bf4463a1c6c9a321257b0d1983471544bc67d",
    "sounds/wav/stim368_thunder.wav": "f19233e6cb20ebe67ca5848eac52edeea1b81a525986374a7377b282649a35ba",
    "sounds/wav/stim370_toothbrushing.wav": "66e26f05abac3a3c493f218590b63c0eba32c3264fe2da09dde59a1ac614ddbd",
    "sounds/wav/stim371_squeaky_toy.wav": "5aa3ac6ac098c2d799652f7a7e8659c57e62215028e4e3c98ea4cd969a94f28d",
    "sounds/wav/stim373_train_warning_bell.wav": "c82340005465b0c58dbcc886ea25dc1a22120f04a714e07d1c93db344ed645b6",
    "sounds/wav/stim375_train_whistle.wav": "ca1f4fbed6326410cb9019b05c6a3592ad6a0654908043eaa09895e04e0b5925",
    "sounds/wav/stim383_truck_beeping_while_backing_up.wav": "aba7f77be938abb226918d003af7da3458b386904d90c3961b602211b5c017ce",
    "sounds/wav/stim384_trumpet_jazz_solo.wav": "19d265b64ff42ae435d70804fc788d6bf63fd8edbba27521593f216e91ead509",
    "sounds/wav/stim387_typing.wav": "d778cabefda3ee6f6e87f1ba907a49d9beee415072761d4fc26f0dc095c04bb7",
    "sounds/wav/stim38_boy_speaking.wav": "33a126ce627d65e5b5cda220e301a6b42bfb6c2d79ddd5512440f9375c114000",
    "sounds/wav/stim391_vacuum.wav": "2f5323b8dcb23577e1f69aa1f0f648b69d9ea8c447ac8174c0986d101633c185",
    "sounds/wav/stim392_velcro.wav": "4b8289b8e1deb9fc03a24d611d797feb4d0a642546622c11ef10b75592701bd8",
    "sounds/wav/stim393_video_game_music.wav": "006c38e54b6a3b49730915fb817b81a4a6360840c85cff0e397cf3913be40fdc",
    "sounds/wav/stim394_violin.wav": "ce936c324ea859b51e9ee5d371e935b885348830f70c6821c9485ecc8d50fc15",
    "sounds/wav/stim398_walking_on_gravel.wav": "38a822afaf0eb7997507c4f9a6595d000579673cced7edc891beb0dc37156e40",
    "sounds/wav/stim399_walking_on_hard_surface.wav": "c73876a3ca17728790d07c29669bd499f1075efbe628cec6b78ceafad5ac7a51",
    "sounds/wav/stim401_walking_with_heels.wav": "3e46015cfab5eba7eabd4b1f01dc45063ce8b46169fffb05a56d7fbce40c3f7d",
    "sounds/wav/stim405_whispering.wav": "b17084493764b3ec4e692ef4faeedc4a3e231377bb57bef7dc078bf295053a86",
    "sounds/wav/stim406_whistling.wav": "bc4a9bd72882f04b8a389415256893895408ef274daeac5a6d353f731bf15444",
    "sounds/wav/stim411_car_power_windows.wav": "bdc1ab5691142fbb2c18ef1f4d94b35f75ea4aa0b74c5ce126bc33c64463890f",
    "sounds/wav/stim414_woman_speaking.wav": "11976cc807a58f68ce6529aae820fa0ae300ace4ec17536b1cb07e1ff4c91b37",
    "sounds/wav/stim418_writing_on_paper.wav": "c698886a747529afae0ec565df38294027dffb68d6a6b615cac12a1ec6bc3551",
    "sounds/wav/stim41_breathing.wav": "853424ec5f5c99dd05a20ddb173a06773fd7767d79cee7d51ef71c85699dd7ad",
    "sounds/wav/stim420_zipper.wav": "3a73e8c4dfb4d9f57571eb61d5282b0086d8bb9db9ac9189793b68da28a29bc5",
    "sounds/wav/stim422_baby_babbling.wav": "e8258af10c1a3430d9402d9661f66921240e1df46be489db1b796f36806c2c3e",
    "sounds/wav/stim434_classic_rock.wav": "ae8ee3b9d0f1385dca12246b140db0f56eb6df08003f5157b70e049c0f511926",
    "sounds/wav/stim437_contemporary_pop_song.wav": "bea0b4863cdb436bce3722a74d456816a8441481f981b0cd1cec8ecae5215be0",
    "sounds/wav/stim461_latin_music.wav": "8560c6843bea63e23148ce2ad6392194deb11405daa49edef355118d16852913",
    "sounds/wav/stim465_song_from_a_musical.wav": "ad743e305812bb93c108d20439905007662c5a5d7ec8280a640a332cb955446a",
    "sounds/wav/stim475_punk_music.wav": "4aaa8e3ce1c244f5f7f043ded17f55f3fe889e76a63237d5d0547d07491835ae",
    "sounds/wav/stim477_reggae.wav": "9ffdaf9472577eb5a2d717869e37da58393fbe6c00a9964a9e2fca62708c0d0a",
    "sounds/wav/stim480_rubbing_hands.wav": "7d53fccad2fe5292bf1a23210b63cd8133bfdffc342ab97188a6de616c6dc4b4",
    "sounds/wav/stim484_soundtrack_for_a_sad_movie_scene.wav": "72ca1344dc3881c39312d59b51ac262c78c0c44d876e0902a50d84ad48db4090",
    "sounds/wav/stim485_soul_music.wav": "8d64c0a7ba24ec4ae674939b46c875fa3c80fafae93dc9a1e15e49ae4e24a03e",
    "sounds/wav/stim486_sports_arena_buzzer.wav": "639ffb6d7aecef229f1485fac3edff287acc0b3272f883fff739fc053e634d6f",
    "sounds/wav/stim488_busy_signal.wav": "a94338a00e3f1d7c381e9e9282921b5fee7a886134a2f721274b96c451121480",
    "sounds/wav/stim490_soundtrack_from_a_western.wav": "e4afc40030d10edf2648036b8bc08d5c1381c73507442aedd5d72f24b4032169",
    "sounds/wav/stim498_computer_startup_sound.wav": "f54ee690bf9acaa8fa9890dfcab9c56003c2ee9f5fe5e4ba0ede9340c4480593",
    "sounds/wav/stim501_spanish.wav": "9c6ebb1f595e9f232720e1f5f27b537a7dd4f514c23850c2df32fc80b063ded3",
    "sounds/wav/stim502_french.wav": "391e066ce337ab310c920a5bd06a0df005d62b7e41de75816953ac775f5fcdb0",
    "sounds/wav/stim503_italian.wav": "80396ee53764a7ee68b4acad46d6fec0db30b5cf237e3cc083a62c8c8baeb222",
    "sounds/wav/stim504_german.wav": "ecac3617ce39097442796560ed68cd1e715ac29d1eab2799feb687d9b2eaba89",
    "sounds/wav/stim505_chinese.wav": "7ff86c81e40fa039d5dbfa876e842d5992320a0775ea8b13e14e54f2f3721632",
    "sounds/wav/stim506_hindi.wav": "864b590a33707f8f5fd40cc42a05ab3f89181b86e472233c49a9b32941b9fed8",
    "sounds/wav/stim508_russian.wav": "644a2eb5e97adc4d7b87211ceb85c8f17f611bc9bec435cad7497b4bf8bd72d5",
    "sounds/wav/stim50_camera_snapping_photos.wav": "fc8ff5eb7f5df35be95aeefe3ce985de062961ef83a29c39283a9e6811d4daaa",
    "sounds/wav/stim510_crowd_laughing.wav": "827f0748d17437aee4e66aebe04022fbdd0368e19a6102534c476f6b5ce74a6a",
    "sounds/wav/stim512_heart_beat.wav": "425a0137ca89e06f56e249da761cefd11480430d7c324c1cf4c2ff1a0f4568ec",
    "sounds/wav/stim513_running_water.wav": "371ec21f59c3ba4726ecacdafc5c0fd5f1c8ebe13de6f16ebabbf754826a17a4",
    "sounds/wav/stim515_sports_anouncer.wav": "99eed7ab7c577d8b3bd8ff01e60d2c7dba42157740f71e0660ff5d1d5f081f18",
    "sounds/wav/stim516_stream.wav": "b387464b61e6361fbf98c5d58b4d1978366226b9e5a12f64aa26049a0f4015ab",
    "sounds/wav/stim517_soundtrack_from_an_action_scene.wav": "5af9544f336915ca13dd991ca45803bf65acd4bfd3ea9d1c94679b1682c586ae",
    "sounds/wav/stim51_car_accelerating.wav": "0c8c2972b01dc2e67bf06462347185e6cd64d1b4f490ac7c85ab3e4e82660997",
    "sounds/wav/stim523_computer-synthesized_speech.wav": "6ebfd94681e42593d66c85990eeeec0588620ce94dd283a71fd6454b7fe26f86",
    "sounds/wav/stim524_cartoon_sound_effects.wav": "4892731e754538b2159771d3922c50ddbf2eea5afbd04de7dd52812d9adf2a79",
    "sounds/wav/stim525_dog_panting.wav": "bf929ff76fe4d29998f436eca8bd7450113be3047a83532da0334ff84ca514b8",
    "sounds/wav/stim527_ringtone.wav": "47b01787a47992625b4f3f98f7b3dd80e72852aa4f7f5f7d8302777a2d0df3bd",
    "sounds/wav/stim52_car_alarm.wav": "28a112abe77bd504fe032c8dc8ca9ba7961b50e654cbb8bde88a6074ee815f81",
    "sounds/wav/stim59_car_engine_starting.wav": "0d91cb831b3dbdf2274f278377c41808fd9a659a69fbcb3bddf1850aab3f7a09",
    "sounds/wav/stim5_alarm_clock.wav": "d6d4bede262c12b913a5608bef96133dabae53c210f9d67c7a7dfbf7c2c121d1",
    "sounds/wav/stim60_car_horn.wav": "c57a5fecf95577f766bb1a7a73bb8363c7f0258f51ca4d01fa5fdd8b84bd1c81",
    "sounds/wav/stim62_car_skidding.wav": "ae85a7c6b4faf122c9ff02a829eed7c3b90d409a7e8002819fc4f91e7a608e99",
    "sounds/wav/stim66_cash_register.wav": "e61ecf77228c560eed616681a30725b41de628e0041a95ba9dc511f81525e5f2",
    "sounds/wav/stim68_cat_meowing.wav": "bfbd56cc86b458347b94f151842d72b46fb37dddd1954debc538a3c0059c5f97",
    "sounds/wav/stim69_cat_purring.wav": "d7f8dd9fa5ef5cddd60b4e5f60f81bd79fbc5dc202c015b13d27818022273ab2",
    "sounds/wav/stim71_cellphone_vibrating.wav": "08e96f068ade4df6a32e68011eefc68786da93797dfa98b1028bae32a1f3c996",
    "sounds/wav/stim72_cello.wav": "79a0503d2eb14f16d4b3663ad99ca2ccccf43eecca0778274ec70646dfb7b2dd",
    "sounds/wav/stim76_chair_rolling.wav": "f250e61fc25e2a03e6257d2f3b8d650dc761ec2535ffaca3d715ff3653961f06",
    "sounds/wav/stim78_chimes_in_the_wind.wav": "f5c99d8b467bf32a130b2252233e4cdf7b7201d0a44f6f946f417c88f3ebddc8",
    "sounds/wav/stim7_applause.wav": "d418f8b049156af6055ff1871cae892cf5fe802850ebb3f46b3a3edcfe6d0777",
    "sounds/wav/stim80_chopping_food.wav": "18b3a3a1cb4c3e7d755a8873a406d709b9217d46f29ac337e516923e45a20084",
    "sounds/wav/stim82_church_bells.wav": "33201e83bda85dfb460536732e0eb94267b54d2c97251731fe14b940842d5004",
    "sounds/wav/stim83_cicadas.wav": "73c39be379101ab6efdb699c559d0da61a22def1bb6dfb1566bdef35c37594d7",
    "sounds/wav/stim86_clock_ticking.wav": "378cf7a4d8f373ddef636f78eb01a9b34b931e1be8cf17c23af9680b75aa5f58",
    "sounds/wav/stim88_coin_dropping.wav": "3fac8a640b7bcd9e818bfab3b33135262f081ef8a51a83ca94e8ea90f0bb98a0",
    "sounds/wav/stim89_coin_in_vending_machine.wav": "3a230f6a2e2b3d89955a8fecb4e8740d9b934dac44b24928e839e8eab0d8a70d",
    "sounds/wav/stim91_coughing.wav": "f875896848d6e1bf092f65cb926403e73d7fe460003d1171573c855d56eb38d8",
    "sounds/wav/stim92_country_song.wav": "98326be3cad107d9e7ed2a80ae805b6bb1d9fe9daaf02c62c78244948c6f69f8",
    "sounds/wav/stim97_crickets.wav": "ba48a1477cb73fb09868701cd47a15db657428a7765a8b9439b3e91daca5d54d",
    "sounds/wav/stim98_crowd_cheering.wav": "18a67e0faaeffafc8d5a7b57f4303c305b550ae5e1a615d9dee10326a0078b70",
}

_THIS = sys.modules[__name__]
N_SOUNDS = 165


@file_cache(maxsize=2)
def _mat_cached(path: str, size: int, mtime_ns: int) -> dict:
    return read_mat(path)


def _components_mat(root) -> dict:
    path = fetch(_THIS, "components.mat", root)
    mat = _mat_cached(str(path), *stamp(path))
    for key in ("R", "W", "component_names", "stim_names", "category_labels"):
        if key not in mat:
            raise ValueError(f"{path} lacks the variable {key!r}; it holds {sorted(mat)}.")
    if np.shape(mat["R"]) != (N_SOUNDS, len(COMPONENTS)):
        raise ValueError(f"{path}: R has shape {np.shape(mat['R'])}; expected ({N_SOUNDS}, {len(COMPONENTS)}).")
    return mat


def load_categories(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Category label of each sound (from ``sounds/category_labels.csv``).

    Returns
    -------
    xarray.DataArray of str, dims ('stimulus',), coord ``stimulus_id``
    """
    path = fetch(_THIS, "sounds/category_labels.csv", root)
    rows = [line.strip().split(",") for line in path.read_text().splitlines() if line.strip()]
    if any(len(r) != 2 for r in rows):
        raise ValueError(f"{path}: expected lines 'stim name,category'.")
    names = np.array([r[0] for r in rows])
    cats = np.array([r[1] for r in rows])
    return xr.DataArray(cats, dims=("stimulus",), coords={"stimulus_id": ("stimulus", names)})


def load_components(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Response profiles of the 6 components to the 165 sounds, as Responses.

    Parameters
    ----------
    root : path-like, optional
        Data root (see ``data_loaders.get_root``).

    Returns
    -------
    Responses, dims ('stimulus', 'unit'), shape (165, 6)
        ``unit_id`` = component names (:data:`COMPONENTS`), coord ``category`` on stimuli
        (11 categories: EngSpeech, ForSpeech, HumVoc, ..., Music, EnvSound). Values are the
        component response profiles (``R`` in ``components.mat``; arbitrary fMRI units).
    """
    mat = _components_mat(root)
    return make_responses(
        np.asarray(mat["R"], dtype=np.float64),
        stimulus_ids=np.asarray(mat["stim_names"]).astype(str),
        unit_ids=np.asarray(mat["component_names"]).astype(str),
        coords={
            "category": ("stimulus", np.asarray(mat["category_labels"]).astype(str)),
            "region": ("unit", np.full(len(COMPONENTS), "auditory cortex")),
        },
        source="norman_haignere2015",
        citation=CITATION,
        units="component response (fMRI, arbitrary units)",
    )


def load_voxel_weights(root: str | os.PathLike | None = None) -> xr.DataArray:
    """Voxel weights of the components (``W``): dims ('component', 'voxel'), shape (6, 11065)."""
    mat = _components_mat(root)
    w = np.asarray(mat["W"], dtype=np.float64)
    return xr.DataArray(
        w, dims=("component", "voxel"), coords={"component": ("component", np.asarray(mat["component_names"]).astype(str))}
    )


@file_cache(maxsize=1)
def _sounds_cached(paths: tuple[str, ...], stamps: tuple) -> tuple[np.ndarray, int]:
    from scipy.io import wavfile

    waves, rate = [], None
    for p in paths:
        try:
            sr, w = wavfile.read(p)
        except (ValueError, EOFError, OSError, struct.error) as err:
            raise ValueError(f"Cannot read {p} as WAV (truncated or corrupt?): {err}") from err
        if rate is None:
            rate = sr
        elif sr != rate:
            raise ValueError(f"{p} has sample rate {sr}; the others have {rate}.")
        if w.ndim != 1:
            w = w.mean(axis=1)
        if np.issubdtype(w.dtype, np.integer):
            w = w.astype(np.float32) / float(np.iinfo(w.dtype).max + 1)
        waves.append(np.asarray(w, dtype=np.float32))
    n = min(len(w) for w in waves)
    if max(len(w) for w in waves) != n:
        raise ValueError("The sounds have different lengths; expected 2 s each.")
    arr = np.stack(waves)
    arr.setflags(write=False)
    return arr, int(rate)


def load_sounds(
    root: str | os.PathLike | None = None,
    *,
    limit: int | None = None,
    stimulus_ids: Sequence[str] | None = None,
) -> xr.DataArray:
    """The 165 sounds as waveforms.

    Parameters
    ----------
    root : path-like, optional
        Data root.
    limit : int, optional
        Load only the first ``limit`` sounds (in the order of :func:`load_components`).
    stimulus_ids : sequence of str, optional
        Load only these sounds, in this order (e.g. ``['stim268_piano']``).

    Returns
    -------
    xarray.DataArray, dims ('stimulus', 'sample'), shape (165, 88200), float32 in [-1, 1)
        ``attrs['sample_rate']`` = 44100; coords ``stimulus_id`` and ``category``.
    """
    comps = load_components(root)
    ids = np.asarray(comps.stimulus_id.values)
    cats = np.asarray(comps.category.values)
    if stimulus_ids is not None:
        pos = {s: i for i, s in enumerate(ids)}
        unknown = [s for s in stimulus_ids if s not in pos]
        if unknown:
            raise ValueError(f"Unknown sound id(s) {unknown[:3]}; ids look like {ids[0]!r} (see load_components()).")
        sel = np.array([pos[s] for s in stimulus_ids], dtype=int)
        ids, cats = ids[sel], cats[sel]
    if limit is not None:
        ids, cats = ids[:limit], cats[:limit]
    paths = tuple(str(fetch(_THIS, f"sounds/wav/{sid}.wav", root)) for sid in ids)
    waves, rate = _sounds_cached(paths, tuple(stamp(p) for p in paths))
    return xr.DataArray(
        waves.copy(),
        dims=("stimulus", "sample"),
        coords={"stimulus_id": ("stimulus", ids), "category": ("stimulus", cats)},
        attrs={"sample_rate": rate, "source": "norman_haignere2015", "citation": CITATION},
    )


def load_stimuli(root: str | os.PathLike | None = None) -> xr.DataArray:
    """The 165 sounds; same as :func:`load_sounds` (for the CLI's ``--dataset``)."""
    return load_sounds(root)


def load(root: str | os.PathLike | None = None) -> tuple[xr.DataArray, xr.DataArray]:
    """``(load_components(root), load_sounds(root))``."""
    return load_components(root), load_sounds(root)
