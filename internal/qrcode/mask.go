package qrcode

// Penalty weights of ISO/IEC 18004 section 7.8.3.
const (
	penaltyRun    = 3  // N1: a run of five same-colour modules
	penaltyBlock  = 3  // N2: a 2×2 block of one colour
	penaltyFinder = 40 // N3: a 1:1:3:1:1 finder-like pattern
	penaltyRatio  = 10 // N4: per 5% deviation from half dark
	numMasks      = 8
)

// maskHit reports whether mask pattern mask inverts the module in row y,
// column x (ISO/IEC 18004 table 10, i = row, j = column).
func maskHit(mask, x, y int) bool {
	switch mask {
	case 0:
		return (y+x)%2 == 0
	case 1:
		return y%2 == 0
	case 2:
		return x%3 == 0
	case 3:
		return (y+x)%3 == 0
	case 4:
		return (y/2+x/3)%2 == 0
	case 5:
		return (y*x)%2+(y*x)%3 == 0
	case 6:
		return ((y*x)%2+(y*x)%3)%2 == 0
	default:
		return ((y+x)%2+(y*x)%3)%2 == 0
	}
}

// applyMask inverts every data module that the mask pattern selects and
// writes the matching format information.
func (m *matrix) applyMask(mask int) {
	for i, fixed := range m.fixed {
		if !fixed && maskHit(mask, i%m.size, i/m.size) {
			m.dark[i] = !m.dark[i]
		}
	}
	m.drawFormat(mask)
}

// bestMasked tries all eight masks on a copy of m and returns the masked
// matrix with the lowest penalty (the lowest mask number on a tie).
func bestMasked(m *matrix) *matrix {
	var best *matrix
	bestScore := 0
	for mask := range numMasks {
		c := m.clone()
		c.applyMask(mask)
		if score := c.penalty(); best == nil || score < bestScore {
			best, bestScore = c, score
		}
	}
	return best
}

// penalty returns the total N1+N2+N3+N4 penalty score of the matrix.
func (m *matrix) penalty() int {
	score := m.blockPenalty() + m.ratioPenalty()
	line := make([]bool, m.size)
	for i := range m.size {
		score += linePenalty(m.row(line, i))
		score += linePenalty(m.column(line, i))
	}
	return score
}

// row copies row y into line and returns it.
func (m *matrix) row(line []bool, y int) []bool {
	return append(line[:0], m.dark[y*m.size:(y+1)*m.size]...)
}

// column copies column x into line and returns it.
func (m *matrix) column(line []bool, x int) []bool {
	line = line[:0]
	for y := range m.size {
		line = append(line, m.dark[y*m.size+x])
	}
	return line
}

// linePenalty scores one row or column: N1 for every run of five or more
// same-colour modules (3 plus 1 per extra module) and N3 for every
// finder-like pattern.
func linePenalty(line []bool) int {
	score := 0
	run := 0
	for i := range line {
		run++
		if i+1 < len(line) && line[i+1] == line[i] {
			continue
		}
		if run >= 5 {
			score += penaltyRun + run - 5
		}
		run = 0
	}
	return score + penaltyFinder*finderLike(line)
}

// finderLike counts dark-light-dark×3-light-dark sequences (1:1:3:1:1)
// with four light modules on at least one side. Modules beyond the
// symbol edge count as light, since the quiet zone is light.
func finderLike(line []bool) int {
	core := [7]bool{true, false, true, true, true, false, true}
	count := 0
	for i := 0; i+len(core) <= len(line); i++ {
		if [7]bool(line[i:i+7]) != core {
			continue
		}
		if allLight(line, i-4, i) || allLight(line, i+7, i+11) {
			count++
		}
	}
	return count
}

// allLight reports whether line[from:to] holds no dark module, treating
// indexes outside the line as light.
func allLight(line []bool, from, to int) bool {
	for i := max(from, 0); i < min(to, len(line)); i++ {
		if line[i] {
			return false
		}
	}
	return true
}

// blockPenalty returns N2: 3 for every 2×2 block of one colour.
func (m *matrix) blockPenalty() int {
	score := 0
	for y := 0; y+1 < m.size; y++ {
		for x := 0; x+1 < m.size; x++ {
			i := y*m.size + x
			c := m.dark[i]
			if m.dark[i+1] == c && m.dark[i+m.size] == c && m.dark[i+m.size+1] == c {
				score += penaltyBlock
			}
		}
	}
	return score
}

// ratioPenalty returns N4: 10 for every full 5% step the share of dark
// modules lies away from 50%.
func (m *matrix) ratioPenalty() int {
	dark := 0
	for _, d := range m.dark {
		if d {
			dark++
		}
	}
	total := len(m.dark)
	deviation := abs(dark*100 - total*50) // percent × total
	return penaltyRatio * (deviation / (5 * total))
}
