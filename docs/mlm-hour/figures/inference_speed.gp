set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'inference_speed.svg'
set title 'Encoding speed'
set xlabel 'batch size'
set ylabel 'input tokens per second'
set logscale xy
plot 'data/inference_1H_len32.dat' using 1:2 with linespoints title '16L-1H length 32', 'data/inference_1H_len128.dat' using 1:2 with linespoints title '16L-1H length 128', 'data/inference_4H_len32.dat' using 1:2 with linespoints title '4L-4H length 32', 'data/inference_4H_len128.dat' using 1:2 with linespoints title '4L-4H length 128'
