set terminal svg size 960,560 dynamic background rgb 'white' font 'sans,12'
set termoption noenhanced
set grid
set key outside right top
set output 'inference_speed.svg'
set title 'Decoding speed (greedy, as many output tokens as input)'
set xlabel 'batch size'
set ylabel 'output tokens per second'
set logscale xy
plot 'data/inference_1H_len8.dat' using 1:2 with linespoints title '12L-1H length 8', 'data/inference_1H_len24.dat' using 1:2 with linespoints title '12L-1H length 24', 'data/inference_2H_len8.dat' using 1:2 with linespoints title '6L-2H length 8', 'data/inference_2H_len24.dat' using 1:2 with linespoints title '6L-2H length 24', 'data/inference_4H_len8.dat' using 1:2 with linespoints title '3L-4H length 8', 'data/inference_4H_len24.dat' using 1:2 with linespoints title '3L-4H length 24'
