#!/usr/bin/env bash
# Regenerates every PNG in icons/ with ImageMagick (6's `convert` or 7's `magick`).
# The PNGs are derived files: edit this script, not them, then run it:
#   bash icons/make-icons.sh
# Output is RGBA (PNG32), as Tauri requires for icon.png and the tray icons.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

if command -v magick >/dev/null 2>&1; then
  im=(magick)
elif command -v convert >/dev/null 2>&1; then
  im=(convert)
else
  echo "make-icons.sh: ImageMagick not found (apt-get install imagemagick)" >&2
  exit 1
fi

# Deterministic output: no timestamps or other varying chunks in the PNGs.
png_opts=(-strip -define png:exclude-chunks=date,time)

# A stack of three crates on a 512x512 canvas: two on the bottom row, one on top.
# Each crate is a rounded box with a lid line. Arguments: fill colour, stroke colour,
# stroke width, lid colour. Prints -draw arguments.
crates() {
  local fill=$1 stroke=$2 width=$3 lid=$4
  local boxes=("96,288 248,440" "264,288 416,440" "180,120 332,272")
  printf -- '-fill\n%s\n-stroke\n%s\n-strokewidth\n%s\n' "$fill" "$stroke" "$width"
  for b in "${boxes[@]}"; do
    printf -- '-draw\nroundrectangle %s 14,14\n' "${b/ /,}"
  done
  printf -- '-stroke\n%s\n-strokewidth\n%s\n' "$lid" "$((width > 10 ? width : 10))"
  for b in "${boxes[@]}"; do
    local x0 y0 x1
    IFS=', ' read -r x0 y0 x1 _ <<<"$b"
    printf -- '-draw\nline %d,%d %d,%d\n' "$((x0 + 4))" "$((y0 + 44))" "$((x1 - 4))" "$((y0 + 44))"
  done
}

# App icon: white crates on a blue rounded square.
mapfile -t app_glyph < <(crates '#f7f9fc' '#0b3a6b' 8 '#0b3a6b')
"${im[@]}" -size 512x512 xc:none \
  -fill '#0a66c2' -stroke none -draw 'roundrectangle 16,16 496,496 104,104' \
  "${app_glyph[@]}" \
  "${png_opts[@]}" PNG32:icon.png

for size in 32 128 256; do
  name="${size}x${size}.png"
  [[ $size == 256 ]] && name="128x128@2x.png"
  "${im[@]}" icon.png -filter Lanczos -resize "${size}x${size}" "${png_opts[@]}" "PNG32:$name"
done

# Tray icons (32x32, transparent): the same crates, amber for the classic store and
# blue for the containerd store, told apart by shape too (not by colour alone): the containerd
# one carries a round badge in its top right corner, where the classic one has none. Drawn at
# 512 with thick strokes, then scaled down. Extra arguments are -draw options on the 360x360
# canvas before the scaling.
tray() {
  local out=$1 fill=$2 stroke=$3
  shift 3
  local glyph
  mapfile -t glyph < <(crates "$fill" "$stroke" 24 "$stroke")
  "${im[@]}" -size 512x512 xc:none "${glyph[@]}" \
    -trim +repage -background none -gravity center -extent 360x360 \
    "$@" \
    -filter Lanczos -resize 32x32 "${png_opts[@]}" "PNG32:$out"
}
tray tray-classic.png '#f5a623' '#7a4a00'
tray tray-containerd.png '#3aa0ff' '#0b3a6b' \
  -fill '#0b3a6b' -stroke '#ffffff' -strokewidth 20 -draw 'circle 296,64 296,0'

echo "make-icons.sh: wrote $(ls -1 ./*.png | wc -l) icons to $here"
